/** The address people and editors use to reach the provider: a wildcard listen address is reached through loopback. */
export function providerBaseUrl(host: string, port: number): string {
    const h = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
    return `http://${h.includes(":") ? `[${h}]` : h}:${port}`;
}
