/** Automerge's wasm as a hashed asset URL (aliased in vite.config.ts to the file in client-sdk's dependency). */
declare module 'pixpax:automerge-wasm' {
  const url: string
  export default url
}
