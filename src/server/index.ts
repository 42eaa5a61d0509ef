// The HTTP face of each zone (Fastify): gateway for institutions, portal for people, core for
// probes only. A thin composition root: routes call into the domain modules and hold no rules.
export { type BuildServerOptions, buildServer } from './app.js'
