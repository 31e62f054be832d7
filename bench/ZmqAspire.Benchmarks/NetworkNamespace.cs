namespace ZmqAspire.Benchmarks;

/// <summary>A Linux network namespace for the WAN mode (iproute2's <c>ip netns</c>).</summary>
internal sealed partial class NetworkNamespace
{
    /// <summary>iproute2's ip, from Debian's iproute2 package.</summary>
    public const string IpPath = "/usr/sbin/ip";
}
