/** Where `tokumei demo` keeps its administrator's sign-in (mode 0600), for `tokumei demo code`. */
export const DEMO_LOGIN_FILE = 'demo-login.json'
