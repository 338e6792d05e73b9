/**
 * The Dockerfile parser, the word lexer and the path patterns of
 * `tsbox build` (no containers): docker's rules for directives, line
 * continuations, comments, flags, the exec form, quoting and `$VAR`
 * expansion, COPY's wildcards and `.dockerignore` — also where a context's
 * symlinks lead.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BuildContext } from "../src/build/context.js";
import { runMounts } from "../src/build/run-mounts.js";
import { expandWord, keyValuePairs, oneWord, parseDockerfile, splitWords } from "../src/build/dockerfile.js";
import { heredocScript } from "../src/build/builder.js";
import { IgnoreRules, matchPath } from "../src/build/patterns.js";

describe("Dockerfile syntax", () => {
  it("reads directives, continuations (comments inside them dropped), flags and the exec form", () => {
    const f = parseDockerfile(["# syntax=docker/dockerfile:1", "# escape=`", "", "# a comment", "from busybox AS base", "RUN echo a `", "  # dropped", "  && echo b", 'CMD ["sh", "-c", "echo hi"]', "COPY --from=base --chown=1:2 a b/", "ENTRYPOINT [not json"].join("\n"));
    assert.equal(f.escape, "`");
    assert.deepEqual(f.instructions.map((i) => [i.keyword, i.line]), [["FROM", 5], ["RUN", 6], ["CMD", 9], ["COPY", 10], ["ENTRYPOINT", 11]]);
    assert.equal(f.instructions[1]!.rest, "echo a   && echo b");
    assert.deepEqual(f.instructions[2]!.json, ["sh", "-c", "echo hi"]);
    assert.deepEqual([...f.instructions[3]!.flags], [["from", "base"], ["chown", "1:2"]]);
    assert.equal(f.instructions[3]!.rest, "a b/");
    assert.equal(f.instructions[4]!.json, undefined, "invalid JSON is the shell form");
  });

  it("names the line of what it refuses", () => {
    assert.throws(() => parseDockerfile("FROM x\n\nBOGUS y"), /line 3: unknown instruction: BOGUS/);
    assert.throws(() => parseDockerfile("FROM x\nCOPY --nope a b"), /line 2: unknown flag: --nope/);
    assert.throws(() => parseDockerfile("# escape=x\nFROM x"), /invalid escape token/);
    assert.throws(() => parseDockerfile("FROM x\nRUN <<EOF\necho\n"), /line 2: unterminated heredoc: no line EOF closes <<EOF/);
  });

  it("reads here-documents: bodies, <<- tab stripping, quoted delimiters, several per instruction, repeated flags", () => {
    const f = parseDockerfile(["FROM x", "RUN --mount=type=cache,target=/a --mount=type=tmpfs,target=/b <<EOF", "echo $A", "EOF", "COPY <<-'ONE' <<TWO /d/", "\tkept $A", "\tONE", "two", "TWO", "RUN echo $((1<<2))", "CMD x"].join("\n"));
    assert.deepEqual(f.instructions.map((i) => [i.keyword, i.line]), [["FROM", 1], ["RUN", 2], ["COPY", 5], ["RUN", 10], ["CMD", 11]]);
    const run = f.instructions[1]!;
    assert.deepEqual(run.flagList, [["mount", "type=cache,target=/a"], ["mount", "type=tmpfs,target=/b"]]);
    assert.deepEqual(run.heredocs, [{ name: "EOF", body: "echo $A\n", expand: true, raw: "echo $A\nEOF" }]);
    assert.deepEqual(f.instructions[2]!.heredocs, [
      { name: "ONE", body: "kept $A\n", expand: false, raw: "\tkept $A\n\tONE" },
      { name: "TWO", body: "two\n", expand: true, raw: "two\nTWO" },
    ]);
    assert.equal(f.instructions[3]!.heredocs, undefined, "a shift is no here-document");
    // What RUN's shell gets: the document alone as the script, a #! one through its interpreter, else command and documents.
    assert.equal(heredocScript("<<EOF", run.heredocs!), "echo $A\n");
    assert.equal(heredocScript("<<EOF", [{ name: "EOF", body: "#!/usr/bin/env python3\nprint(1)\nTSBOX_SCRIPT\n", expand: true, raw: "" }]), "exec /usr/bin/env python3 /dev/stdin <<'TSBOX_SCRIPT_'\nprint(1)\nTSBOX_SCRIPT\nTSBOX_SCRIPT_\n");
    assert.equal(heredocScript("cat <<EOF > /f", run.heredocs!), "cat <<EOF > /f\necho $A\nEOF");
  });

  it("finds here-documents per shell word, as BuildKit: `<<` inside quotes or mid-word opens none", () => {
    // Before: `<<WORD` anywhere in the line opened one: "unterminated heredoc", or the lines up to a WORD swallowed.
    const f = parseDockerfile([
      "FROM x",
      'RUN echo "url=<<API_URL>>" > /c && sed -i "s|<<API_URL>>|http://api|" /c',
      'RUN echo "usage: cat <<EOF"',
      "RUN sed -n 's/<<END/x/p' f",
      'RUN "<<NOHEREDOC"',
      "RUN cat 2<<ERR >/dev/null <<-'DOC' x\\ <<NOT",
      "err",
      "ERR",
      "\tdoc",
      "\tDOC",
      "CMD x",
    ].join("\n"));
    assert.deepEqual(f.instructions.map((i) => [i.keyword, i.line, i.heredocs?.map((d) => d.name)]), [
      ["FROM", 1, undefined], ["RUN", 2, undefined], ["RUN", 3, undefined], ["RUN", 4, undefined], ["RUN", 5, undefined], ["RUN", 6, ["ERR", "DOC"]], ["CMD", 11, undefined],
    ]);
  });

  it("skips blank lines inside a continuation, with docker's warning naming each", () => {
    // Before: the blank line ended the instruction, and the next one was "unknown instruction: &&".
    const f = parseDockerfile("FROM x\nRUN echo a \\\n\n  \n    && echo b \\\n  # comment\n  && echo c\nRUN echo d \\\n");
    assert.deepEqual(f.instructions.map((i) => [i.keyword, i.line, i.rest]), [["FROM", 1, "x"], ["RUN", 2, "echo a     && echo b   && echo c"], ["RUN", 8, "echo d"]]);
    assert.deepEqual(f.warnings, [3, 4].map((n) => `line ${n}: empty continuation line (docker: empty continuation lines will become errors in a future release)`));
  });

  it("reads WORKDIR's, USER's and STOPSIGNAL's argument as one word, blanks kept (BuildKit's parseString)", () => {
    const vars = new Map([["D", "my dir"]]);
    assert.equal(oneWord("/my dir", vars), "/my dir");
    assert.equal(oneWord('"/a b"', vars), "/a b");
    assert.equal(oneWord("/srv/$D/x\\ y  'z $D'", vars), "/srv/my dir/x y  z $D");
    assert.throws(() => oneWord('"/open', vars, "\\", 3), /line 3: unmatched "/);
  });

  it("splits words as docker's lexer: quotes, escapes, $VAR, ${VAR:-default}, ${VAR:+alt}", () => {
    const vars = new Map([["A", "one"], ["EMPTY", ""]]);
    assert.deepEqual(splitWords(`a "b c" 'd $A' \\$A $A\${A}x "\${NONE:-dflt}" \${A:+alt} \${EMPTY:-e}`, vars), ["a", "b c", "d $A", "$A", "oneonex", "dflt", "alt", "e"]);
    assert.deepEqual(splitWords('x\\ y "q\\"uote"', vars), ["x y", 'q"uote']);
    assert.throws(() => splitWords('"open', vars, "\\", 4), /line 4: unmatched "/);
    // An exec-form word: variables only, its quotes are the JSON's.
    assert.equal(expandWord("it's $A ${NONE:-x} \\$A", vars), "it's one x $A");
    assert.throws(() => splitWords("${A", vars, "\\", 5), /line 5: missing '}'/);
  });

  it("expands the word of ${VAR:-word} and ${VAR:+word} as docker's lexer does: its own variables, nested braces matched", () => {
    const vars = new Map([["SET", "val"], ["EMPTY", ""]]);
    assert.deepEqual(splitWords("${UNSET:-$SET} ${UNSET:-${SET}x} ${SET:+<${SET}>} ${UNSET:-${EMPTY:-${SET:+deep}}}y ${UNSET:-a\\}b}", vars), ["val", "valx", "<val>", "deepy", "a}b"]);
    assert.equal(expandWord("${UNSET:-${SET}/data}", vars), "val/data");
    assert.throws(() => splitWords("${UNSET:-${SET}", vars, "\\", 3), /line 3: missing '}'/);
    assert.throws(() => splitWords("${SET^^}", vars, "\\", 4), /line 4: bad substitution \$\{SET\^\^\}/);
    // Without the colon only an unset variable takes the word; ? refuses one.
    assert.deepEqual(splitWords("${EMPTY-d}. ${UNSET-d} ${EMPTY+a}. ${UNSET+a}. ${SET:?must} ${EMPTY?must}.", vars), [".", "d", "a.", ".", "val", "."]);
    assert.throws(() => splitWords("${EMPTY:?must be set}", vars, "\\", 6), /line 6: EMPTY: must be set/);
    assert.throws(() => splitWords("${UNSET?}", vars, "\\", 7), /line 7: UNSET: is not allowed to be unset/);
  });

  it("trims and replaces by shell patterns as Dockerfile 1.7 does: ${V#p} ${V##p} ${V%p} ${V%%p} ${V/p/r} ${V//p/r}", () => {
    const vars = new Map([["V", "v1.2.3"], ["P", "linux/arm64/v8"], ["F", "/home/tux/book.tar.bz2"], ["STAR", "*"], ["LONG", "a".repeat(2000)]]);
    const cases: [string, string][] = [
      ["${V#v}", "1.2.3"],
      ["${V#x}", "v1.2.3"],
      ["${F#*/}", "home/tux/book.tar.bz2"],
      ["${F##*/}", "book.tar.bz2"],
      ["${F%.*}", "/home/tux/book.tar"],
      ["${F%%.*}", "/home/tux/book"],
      ["${F%%[.]*}", "/home/tux/book"],
      ["${F##*[!a-z]}", ""],
      ["${P/\\//-}", "linux-arm64/v8"],
      ["${P//\\//-}", "linux-arm64-v8"],
      ["${V//./}", "v123"],
      ["${V/?/x}", "x1.2.3"],
      ["${V#$STAR}", "v1.2.3"],
      ["${V##$STAR}", ""],
      ["${UNSET#x}", ""],
      ["${V/\\./:}", "v1:2.3"],
      ["${P//[/]/_}", "linux_arm64_v8"],
      ["${P#*[!a-z]}", "arm64/v8"],
      // Matched without backtracking: as a regular expression this one did not end in minutes.
      ["${LONG//*a*a*a*b/x}", "a".repeat(2000)],
    ];
    for (const [word, want] of cases) assert.equal(expandWord(word, vars), want, word);
    assert.throws(() => splitWords("${V#x", vars, "\\", 8), /line 8: missing '}'/);
  });

  it("reads KEY=VALUE pairs with the values before the instruction, and ENV's old form", () => {
    const [env] = parseDockerfile('ENV A=1 B="two words" C=$A').instructions;
    assert.deepEqual(keyValuePairs(env!, new Map([["A", "old"]]), "\\", true), [["A", "1"], ["B", "two words"], ["C", "old"]]);
    // The old form's value is the rest of the line as one word, blanks kept (BuildKit's parseNameVal, then
    // ProcessWord; podman alike). Before: its words joined by one blank.
    const [old] = parseDockerfile('ENV NAME the whole  rest "in  quotes" $A').instructions;
    assert.deepEqual(keyValuePairs(old!, new Map([["A", "x"]]), "\\", true), [["NAME", "the whole  rest in  quotes x"]]);
    const [bad] = parseDockerfile("LABEL =x").instructions;
    assert.throws(() => keyValuePairs(bad!, new Map(), "\\", true), /expects KEY=VALUE/);
  });
});

describe("build path patterns", () => {
  it("COPY's wildcards stay within one path component", () => {
    assert.ok(matchPath("*.txt", "a.txt"));
    assert.ok(!matchPath("*.txt", "dir/a.txt"));
    assert.ok(matchPath("src/?.js", "src/a.js"));
    assert.ok(matchPath("[a-c]*", "beta"));
    assert.ok(!matchPath("[!a-c]*", "beta"));
  });

  it(".dockerignore: ** spans directories, a directory covers its contents, the last matching line decides", () => {
    const rules = new IgnoreRules("# comment\n**/*.key\nnode_modules\n/build/\ndocs/*\n!docs/keep.md\n");
    for (const ignored of ["a.key", "deep/er/b.key", "node_modules", "node_modules/x/y.js", "build/out", "docs/other.md"]) assert.ok(rules.ignores(ignored), ignored);
    for (const kept of ["src/a.js", "docs/keep.md", "builder/x", "keyfile"]) assert.ok(!rules.ignores(kept), kept);
    assert.ok(rules.mayReinclude("docs"));
    assert.ok(!rules.mayReinclude("node_modules"));
  });
});

describe("build context and .dockerignore", () => {
  it("a symlink to what .dockerignore leaves out leads nowhere, as in BuildKit's filtered context: its target, what is walked under it, through nested links, `..` and absolute targets", () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "context-")));
    try {
      const files: Record<string, string | { link: string }> = {
        ".dockerignore": ".git\nsecrets\n.env\nsrc/secret.txt\nhidden\n!hidden/public.pem\n",
        ".git/config": "token",
        "secrets/id_rsa": "key",
        ".env": "SECRET=1",
        "src/a.js": "a",
        "src/secret.txt": "s",
        "hidden/public.pem": "p",
        "hidden/private.pem": "q",
        keys: { link: "secrets" },
        gitcfg: { link: ".git/config" },
        envalias: { link: ".env" },
        srclink: { link: "src" },
        all: { link: "." },
        "sub/up": { link: "../keys" },
        nested: { link: "sub/up" },
        abskeys: { link: join(dir, "secrets") },
        dotdot: { link: "src/../secrets/id_rsa" },
        viasub: { link: "sub/up/id_rsa" },
        pubs: { link: "hidden" },
        gitdir: { link: "./sub/../.git" },
      };
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        if (typeof content === "string") writeFileSync(join(dir, path), content);
        else symlinkSync(content.link, join(dir, path));
      }
      const context = new BuildContext(dir);
      const names = (source: string) => context.resolve([source], 2).flatMap((s) => s.items.map((i) => i.name || "(file)"));
      // Before: each of these read the ignored file or directory (the rules were matched against the link's name).
      for (const link of ["keys", "gitcfg", "envalias", "nested", "abskeys", "dotdot", "viasub", "keys/id_rsa", "gitdir", "pubs/private.pem"]) {
        assert.throws(() => context.resolve([link], 2), new RegExp(`: line 2: ${link}: not found in the build context \\(a symlink that leads nowhere\\)$`), link);
      }
      // A wildcard that matches the link's own name finds the link, which leads nowhere; one under it finds nothing.
      assert.throws(() => context.resolve(["gitc*"], 2), /: line 2: gitcfg: not found in the build context \(a symlink that leads nowhere\)$/);
      assert.throws(() => context.resolve(["keys/*"], 2), /no source files were specified: no file in the build context matches keys\/\*/);
      // A linked directory is walked by the rules of where it is: its ignored child left out, an exception's kept.
      assert.deepEqual(names("srclink"), ["a.js"]);
      assert.deepEqual(names("pubs"), ["public.pem"]);
      assert.deepEqual(names("pubs/*"), ["(file)"]);
      assert.deepEqual(names("hidden"), ["public.pem"], "an ignored directory an exception reaches into is there, with what comes back");
      const everything = ["all", ".", "sub/.."].map(names);
      for (const listed of everything) {
        assert.deepEqual(listed, [".dockerignore", "abskeys", "all", "dotdot", "envalias", "gitcfg", "gitdir", "hidden", "hidden/public.pem", "keys", "nested", "pubs", "src", "src/a.js", "srclink", "sub", "sub/up", "viasub"]);
      }
      // Links inside a copied directory are copied as links: nothing is read through them.
      assert.deepEqual(context.resolve(["sub"], 2)[0]!.items.map((i) => [i.name, i.type, i.link]), [["up", "symlink", "../keys"]]);
      // RUN --mount=type=bind takes its source by the same rule.
      for (const source of ["envalias", "keys", ".env", "viasub"]) {
        assert.throws(() => runMounts([`type=bind,source=${source},target=/m`], context, dir, "/", 3), new RegExp(`: line 3: RUN --mount=type=bind,source=${source},target=/m: source ${source} is not in the build context$`), source);
      }
      const [bind] = runMounts(["type=bind,source=srclink,target=/m"], context, dir, "/", 3).mounts;
      assert.deepEqual(bind, { type: "bind", source: join(dir, "src"), target: "/m", readonly: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
