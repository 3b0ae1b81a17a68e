// Network keys: an IPv4 address, or an IPv6 /64, is one network.
import { describe, expect, it } from "vitest";
import { networkOf } from "../../src/core/network";

describe("networkOf", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    ["2001:db8:aa:bb:1:2:3:4", "2001:db8:aa:bb::/64"],
    ["2001:0db8:00aa:00bb:ffff::1", "2001:db8:aa:bb::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    [undefined, "unknown"],
    ["not an address", "unknown"],
  ])("counts %s as %s", (ip, network) => {
    expect(networkOf(ip)).toBe(network);
  });

  it("puts two addresses of one /64 in one network, and of two /64s in two", () => {
    expect(networkOf("2001:db8:1:2::a")).toBe(networkOf("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    expect(networkOf("2001:db8:1:2::a")).not.toBe(networkOf("2001:db8:1:3::a"));
  });
});
