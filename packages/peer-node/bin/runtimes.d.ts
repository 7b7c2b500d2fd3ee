/** The Node binary of the `node` npm package, if installed. */
export declare function findBundledNode (): string | undefined
/** The Deno binary: $SUBWIRE_DENO, or the one the `deno` npm package installed. */
export declare function findDeno (): string | undefined
