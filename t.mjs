import { PGlite } from '@electric-sql/pglite';
let t=Date.now(); const a = await PGlite.create(); console.log('create1', Date.now()-t);
t=Date.now(); const b = await PGlite.create(); console.log('create2', Date.now()-t);
t=Date.now(); const dump = await a.dumpDataDir('none'); console.log('dump', Date.now()-t, dump.size);
t=Date.now(); const c = await PGlite.create({loadDataDir: dump}); console.log('load', Date.now()-t);
console.log((await c.query('select 1 as x')).rows)
