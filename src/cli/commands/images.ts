import { ImageError, UsageError } from "../../errors.js";
import { createdTime, type ImageSummary } from "../../image/store.js";
import { parseReference } from "../../image/reference.js";
import { matchPath } from "../../build/patterns.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { allValues, lastValue, parseFlags } from "../flags.js";
import { strictContext } from "../format-template-exec.js";
import { type FormatDefaults, refuseJsonWith, writeFormatted } from "../format-output.js";
import { danglingValue } from "../list-filters.js";
import { humanSize, shortId, timeAgo } from "../format.js";
import { goTimeString } from "./ps-context.js";

const USAGE = `Usage: tsbox images [OPTIONS] [REPOSITORY[:TAG]]

List images in the local store, newest first: one row per name and platform, and the images without a name (<none>).

Options:
  -a, --all           Also the build cache's step images (docker's intermediate images)
  -f, --filter K=V    dangling=true|false, reference=PATTERN (e.g. busybox*, */app:*),
                      label=KEY[=VALUE], before=IMAGE, since=IMAGE
  -q, --quiet         Only image IDs
      --no-trunc      Whole image IDs
      --digests       Show manifest digests
      --format FMT    table, json, or a Go template ({{.Repository}}, {{.Tag}}, {{.ID}},
                      {{.Digest}}, {{.Platform}}, {{.CreatedSince}}, {{.CreatedAt}}, {{.Size}})
      --json          The store's records as one JSON array
`;

/** docker's ImageContext, with the platform tsbox lists each image by. */
const IMAGE_FORMAT: FormatDefaults = {
  table: "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.Platform}}",
  quiet: "{{.ID}}",
  typeName: "*formatter.ImageContext",
  headers: { Repository: "REPOSITORY", Tag: "TAG", Platform: "PLATFORM", ID: "IMAGE ID", Digest: "DIGEST", CreatedSince: "CREATED", CreatedAt: "CREATED AT", Size: "SIZE", Containers: "CONTAINERS" },
};

export async function imagesCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [
    { name: "json" },
    { name: "quiet", short: "q" },
    { name: "no-trunc" },
    { name: "digests" },
    { name: "all", short: "a" },
    { name: "filter", short: "f", value: true, repeat: true },
    { name: "format", value: true },
  ]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length > 1) throw new UsageError(`"tsbox images" takes at most one argument (REPOSITORY[:TAG])`);
  refuseJsonWith(flags.bools.has("json"), lastValue(flags, "format"), flags.bools.has("quiet"));
  const all = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).images({ all: flags.bools.has("all") });
  const wanted = flags.positionals[0];
  // A pattern (`images 'busy*'`, `'myorg/*'`) is a reference= filter, as docker-cli adds the argument to them.
  const pattern = wanted !== undefined && /[*?[]/.test(wanted);
  let images = all.filter(imageFilter([...allValues(flags, "filter"), ...(pattern ? [`reference=${wanted}`] : [])], all));
  if (wanted !== undefined && !pattern) images = images.filter(matches(wanted));
  if (flags.bools.has("json")) {
    ctx.stdout.write(JSON.stringify(images, null, 2) + "\n");
    return 0;
  }
  const trunc = !flags.bools.has("no-trunc");
  const quiet = flags.bools.has("quiet");
  // -q lists each image once, however many names it has (docker's).
  const listed = quiet ? images.filter((img, i) => images.findIndex((o) => o.id === img.id) === i) : images;
  const format = lastValue(flags, "format");
  const defaults = flags.bools.has("digests") && format === undefined ? { ...IMAGE_FORMAT, table: IMAGE_FORMAT.table.replace("\t{{.ID}}", "\t{{.Digest}}\t{{.ID}}") } : IMAGE_FORMAT;
  writeFormatted(ctx.stdout, listed.map((img) => imageContext(img, trunc)), format, defaults, quiet);
  return 0;
}

const FILTER_KEYS = ["dangling", "reference", "label", "before", "since"];

/**
 * docker's `--filter`s: `dangling`, `reference` (a glob on `repo` or
 * `repo:tag`), `label=KEY[=VALUE]`, and `before`/`since` an image (by name or
 * id) of `listed`: older or newer than it. Keys ANDed, a key's values ORed.
 */
function imageFilter(specs: string[], listed: ImageSummary[]): (img: ImageSummary) => boolean {
  const byKey = new Map<string, string[]>();
  for (const spec of specs) {
    const m = /^([a-z]+)=(.*)$/.exec(spec);
    if (!m || !FILTER_KEYS.includes(m[1]!)) throw new UsageError(`invalid filter '${spec}' (tsbox images filters: ${FILTER_KEYS.join(", ")})`);
    if (m[1] === "dangling") danglingValue(m[2]!);
    byKey.set(m[1]!, [...(byKey.get(m[1]!) ?? []), m[2]!]);
  }
  const dangling = byKey.get("dangling")?.map(danglingValue);
  const references = byKey.get("reference");
  const labels = byKey.get("label")?.map((l) => /^([^=]*)(?:=(.*))?$/s.exec(l)!);
  const pivot = (key: string) => byKey.get(key)?.map((ref) => createdTime(findListed(listed, ref)));
  const before = pivot("before");
  const since = pivot("since");
  return (img) =>
    (dangling === undefined || dangling.includes(img.dangling)) &&
    (references === undefined || (!img.dangling && references.some((p) => matchPath(p, img.repository) || matchPath(p, `${img.repository}:${img.tag ?? ""}`)))) &&
    (labels === undefined || labels.some(([, key, value]) => img.labels[key!] !== undefined && (value === undefined || img.labels[key!] === value))) &&
    (before === undefined || before.some((t) => createdTime(img) < t)) &&
    (since === undefined || since.some((t) => createdTime(img) > t));
}

/** The image a `before=`/`since=` filter names: a name (`busybox`, `app:1`) or an id (prefix). */
function findListed(listed: ImageSummary[], ref: string): ImageSummary {
  const hex = /^(sha256:)?([0-9a-f]{1,64})$/.exec(ref)?.[2];
  const byId = hex !== undefined ? listed.find((img) => img.id.replace(/^sha256:/, "").startsWith(hex)) : undefined;
  let found = byId;
  if (!found) {
    try {
      found = listed.find(matches(ref.includes(":") || ref.includes("@") ? ref : `${ref}:latest`));
    } catch {
      // not a reference either
    }
  }
  if (!found) throw new ImageError(`no such image: ${ref}`);
  return found;
}

/** `images busybox` or `images busybox:1.36`: docker's reference filter (a name without a tag lists every tag). */
function matches(text: string): (img: ImageSummary) => boolean {
  const ref = parseReference(text);
  const tagged = /:[^/]+$/.test(text);
  return (img) => {
    if (img.dangling) return false;
    const other = parseReference(img.name);
    return other.domain === ref.domain && other.path === ref.path && (!tagged || img.tag === ref.tag);
  };
}

function imageContext(img: ImageSummary, trunc: boolean): object {
  return strictContext(IMAGE_FORMAT.typeName, {
    Repository: img.repository,
    Tag: img.tag ?? "<none>",
    Platform: img.platform,
    ID: trunc ? shortId(img.id) : img.id,
    Digest: img.repoDigest,
    CreatedSince: timeAgo(img.created),
    // A getter: the zone's name comes from Intl, whose first use costs ~10 ms, and few formats show it (as ps).
    get CreatedAt() {
      return img.created ? goTimeString(new Date(img.created)) : "";
    },
    Size: humanSize(img.size),
  });
}
