// Resolve hook: bare imports ('sharp', '@aws-sdk/client-s3') of the peer's handler, which is loaded in
// place from its read-only folder, resolve from this folder's node_modules.
const here = new URL('./server.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  const bare = !/^(\.|\/|[a-z]+:)/.test(specifier);
  if (bare && context.parentURL && !context.parentURL.includes('/node_modules/')) {
    return nextResolve(specifier, { ...context, parentURL: here });
  }
  return nextResolve(specifier, context);
}
