import type { Attachment } from "./attachments.js";
import { hasDefaultRoute } from "./routes.js";

/**
 * Docker's gateway endpoint: the network that gives a running container its default route and its published ports.
 * A keeper moves them among the networks it joined when the one holding them leaves (keeper.rs `leave_one`), but a
 * network `network connect` added to a running container has a keeper of its own, which the leaving keeper cannot
 * hand them to: the container was left with neither (docker picks a new gateway among the networks left).
 */

/**
 * Whether the running container `pid` (a host pid: the native backend's) has lost its gateway endpoint: no default
 * route in its namespace and no attachment holding published ports. False when its routes cannot be read.
 */
export function lacksGateway(pid: number, attached: Attachment[]): boolean {
  return hasDefaultRoute(`/proc/${pid}/net/route`) === false && attached.every((a) => (a.ports ?? []).length === 0);
}

/**
 * The attachment to make the gateway endpoint: the first of the container's networks in the order it joined them
 * (`order`, its record) that leads somewhere (an internal network gets no default route, as at a start).
 */
export function nextGateway(order: string[], attached: Attachment[], internal: (network: string) => boolean): Attachment | undefined {
  const rank = (a: Attachment) => (order.includes(a.network) ? order.indexOf(a.network) : order.length);
  return attached.filter((a) => !internal(a.network)).sort((x, y) => rank(x) - rank(y))[0];
}
