// The network a request comes from, as the guard counts it: an IPv4 address, or an IPv6 /64 (what one
// IPv6 client usually controls); anything unparseable is one shared "unknown" network. Pure.

export function networkOf(ip: string | undefined): string {
  if (!ip) return "unknown";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return ip;
  if (!ip.includes(":") || !/^[0-9a-fA-F:.]+$/.test(ip)) return "unknown";
  const [head = "", tail = ""] = ip.toLowerCase().split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === "" ? [] : tail.split(":");
  const missing = ip.includes("::") ? 8 - headGroups.length - tailGroups.length : 0;
  const groups = [...headGroups, ...Array(Math.max(missing, 0)).fill("0"), ...tailGroups];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}
