/** IPv4 addresses and subnets, as far as choosing and checking networks needs them. */

export interface Subnet {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

export function parseIPv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.88.0.0/16"; an error message when it is not one (host bits set, prefix over 30). */
export function parseSubnet(text: string): Subnet | string {
  const [ip, len, extra] = text.split("/");
  const base = ip === undefined ? undefined : parseIPv4(ip);
  const prefix = Number(len);
  if (base === undefined || extra !== undefined || !/^\d{1,2}$/.test(len ?? "") || prefix > 30) return `${text} is not an IPv4 subnet (A.B.C.D/N, N at most 30)`;
  if ((base & ~mask(prefix)) >>> 0 !== 0) return `${text} has host bits set (did you mean ${formatSubnet({ base: (base & mask(prefix)) >>> 0, prefix })}?)`;
  return { base, prefix };
}

export function formatSubnet(s: Subnet): string {
  return `${formatIPv4(s.base)}/${s.prefix}`;
}

export function contains(s: Subnet, ip: number): boolean {
  return (ip & mask(s.prefix)) >>> 0 === s.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.base & mask(p)) >>> 0 === (b.base & mask(p)) >>> 0;
}
