import type { Node } from "@quanta/ir";

/** Glob to RegExp: `*` any run, `?` one character, everything else literal. */
function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
}

/**
 * A matcher for exclusion patterns: a pattern matches a node when it equals the node's name or op type,
 * or, with `*`/`?`, when it matches the name or op type as a glob. Returns the first matching pattern.
 */
export function excluder(patterns: readonly string[]): (node: Pick<Node, "name" | "op">) => string | undefined {
  const compiled = patterns.map((p) => ({ p, re: /[*?]/.test(p) ? globToRegExp(p) : undefined }));
  return (node) => {
    for (const { p, re } of compiled) {
      if (re ? re.test(node.name) || re.test(node.op) : p === node.name || p === node.op) return p;
    }
    return undefined;
  };
}
