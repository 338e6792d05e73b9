/**
 * docker-cli runs an inspect template on the typed struct (types.ContainerJSON, image.InspectResponse), where a
 * nil slice prints `[]` and a nil map `map[]`, an `omitempty` one the JSON left out included; on tsbox's JSON they
 * were `<nil>` and `<no value>` (`{{.Config.Entrypoint}}`, `{{.HostConfig.Binds}}`, `{{.Config.ExposedPorts}}`).
 * These are the slice and map fields of those structs that a script formats; `json` still writes them as docker
 * does (`null`, or nothing).
 */
import { typedNil } from "./format-template-values.js";

type Shape = "slice" | "map" | { [field: string]: Shape };

const CONFIG: Shape = {
  Env: "slice", Cmd: "slice", Entrypoint: "slice", OnBuild: "slice", Shell: "slice",
  Volumes: "map", Labels: "map", ExposedPorts: "map",
};

const SHAPES: Record<"container" | "image", Shape> = {
  container: {
    Args: "slice", ExecIDs: "slice", Mounts: "slice", Config: CONFIG,
    HostConfig: {
      Binds: "slice", CapAdd: "slice", CapDrop: "slice", Dns: "slice", DnsOptions: "slice", DnsSearch: "slice",
      ExtraHosts: "slice", GroupAdd: "slice", Links: "slice", SecurityOpt: "slice", VolumesFrom: "slice",
      Devices: "slice", DeviceCgroupRules: "slice", Ulimits: "slice", Mounts: "slice", MaskedPaths: "slice",
      ReadonlyPaths: "slice", PortBindings: "map", StorageOpt: "map", Tmpfs: "map", Sysctls: "map",
      LogConfig: { Config: "map" },
    },
    NetworkSettings: { Ports: "map", Networks: "map", SecondaryIPAddresses: "slice", SecondaryIPv6Addresses: "slice" },
  },
  image: { RepoTags: "slice", RepoDigests: "slice", Config: CONFIG, RootFS: { Layers: "slice" }, GraphDriver: { Data: "map" } },
};

/** `value` for a template: its nil (or absent) slice and map fields typed nils, in copies of the objects holding them. */
export function withTypedNils(kind: "container" | "image", value: unknown): unknown {
  return apply(SHAPES[kind], value);
}

function apply(shape: Shape, value: unknown): unknown {
  if (typeof shape === "string" || typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [field, inner] of Object.entries(shape)) {
    const present = Object.prototype.hasOwnProperty.call(out, field);
    if (typeof inner === "string") {
      if (!present || out[field] === null) out[field] = typedNil(inner, !present);
    } else if (present) out[field] = apply(inner, out[field]);
  }
  return out;
}
