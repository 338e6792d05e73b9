import type { IncomingMessage, ServerResponse } from "node:http";

export declare const CONTENT_TYPES: Readonly<Record<string, string>>;
export declare function requestPath(req: IncomingMessage): string | undefined;
export declare function fileUnder(dir: string, rel: string): string | undefined;
export declare function sendFile(req: IncomingMessage, res: ServerResponse, file: string): void;
