using System.Globalization;

namespace ZmqAspire.Benchmarks;

/// <summary>
/// The WAN mode's network namespace (iproute2's <c>ip netns</c>): sshd and the servers run in it,
/// reached over a veth pair whose two addresses (a /30 in 10.233.0.0/16) exist only between this
/// namespace and the benchmark's. Deleted on dispose, and on Ctrl+C or SIGTERM with the processes
/// in it (<see cref="ChildProcesses"/>).
/// </summary>
internal sealed class NetworkNamespace : IDisposable
{
    /// <summary>iproute2's ip, from Debian's iproute2 package.</summary>
    public const string IpPath = "/usr/sbin/ip";

    private readonly string _hostLink;
    private bool _deleted;

    private NetworkNamespace(string name, string hostLink, string hostAddress, string innerAddress)
    {
        Name = name;
        _hostLink = hostLink;
        HostAddress = hostAddress;
        InnerAddress = innerAddress;
    }

    /// <summary>Gets the namespace's name, for <c>ip netns exec</c>.</summary>
    public string Name { get; }

    /// <summary>Gets the address of the benchmark's end of the veth pair.</summary>
    public string HostAddress { get; }

    /// <summary>Gets the address of the namespace's end of the veth pair: where sshd and the servers listen.</summary>
    public string InnerAddress { get; }

    /// <summary>Creates the namespace and its veth pair (needs root, as the benchmark's sshd does).</summary>
    /// <exception cref="InvalidOperationException">ip is missing or refused (not root, no netns support).</exception>
    public static NetworkNamespace Create()
    {
        if (!File.Exists(IpPath))
        {
            throw new InvalidOperationException($"{IpPath} is missing: install Debian's iproute2 for --netns/--wan-rtt");
        }

        var pid = Environment.ProcessId;
        var name = string.Create(CultureInfo.InvariantCulture, $"zmqaspire-bench-{pid}");
        var host = string.Create(CultureInfo.InvariantCulture, $"zqb{pid}h");
        var inner = string.Create(CultureInfo.InvariantCulture, $"zqb{pid}n");
        var third = (pid / 64) % 256;
        var fourth = pid % 64 * 4;
        var hostAddress = string.Create(CultureInfo.InvariantCulture, $"10.233.{third}.{fourth + 1}");
        var innerAddress = string.Create(CultureInfo.InvariantCulture, $"10.233.{third}.{fourth + 2}");
        var ns = new NetworkNamespace(name, host, hostAddress, innerAddress);
        ChildProcesses.AddCleanup(ns.Delete);
        try
        {
            Ip("netns", "add", name);
            Ip("link", "add", host, "type", "veth", "peer", "name", inner);
            Ip("link", "set", inner, "netns", name);
            Ip("addr", "add", hostAddress + "/30", "dev", host);
            Ip("link", "set", host, "up");
            Ip("-n", name, "addr", "add", innerAddress + "/30", "dev", inner);
            Ip("-n", name, "link", "set", inner, "up");
            Ip("-n", name, "link", "set", "lo", "up");
            return ns;
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Gets the MTU of the veth pair (1500 unless changed), for the report.</summary>
    public string Mtu => File.Exists($"/sys/class/net/{_hostLink}/mtu") ? File.ReadAllText($"/sys/class/net/{_hostLink}/mtu").Trim() : "?";

    /// <summary>Deletes the veth pair and the namespace (the processes in it must have ended).</summary>
    public void Dispose()
    {
        ChildProcesses.RemoveCleanup(Delete);
        Delete();
    }

    private static void Ip(params string[] arguments) => Proc.RunChecked(IpPath, arguments);

    private void Delete()
    {
        if (_deleted)
        {
            return;
        }

        _deleted = true;
        Proc.Run(IpPath, "link", "del", _hostLink); // takes its peer in the namespace with it
        Proc.Run(IpPath, "netns", "del", Name);
    }
}
