namespace ZmqAspire.Benchmarks;

/// <summary>One measured mode: a kind of socket over a transport.</summary>
/// <param name="Peer">The server side: <c>netmq</c> (this executable) or <c>pyzmq</c> (libzmq, pyzmq_server.py).</param>
internal sealed record Mode(string Id, string Title, Kind Kind, string Transport, bool Required, string Peer = "netmq")
{
    /// <summary>Gets the key of this mode's transport instance: one per transport and server (a pyzmq server has tunnels of its own).</summary>
    public string TransportKey => Peer == "netmq" ? Transport : $"{Transport}@{Peer}";

    public static IReadOnlyList<Mode> All { get; } =
    [
        new("tcp", "raw TCP (floor)", Kind.Tcp, "direct", true),
        new("netmq", "NetMQ direct", Kind.NetMQ, "direct", true),
        new("netmq-ssh-L", "NetMQ via OpenSSH ssh -L", Kind.NetMQ, "ssh-L", true),
        new("netmq-tunnel", "NetMQ via ZmqAspire tunnel", Kind.NetMQ, "tunnel", true),
        new("netmq-cli", "NetMQ via zmq-tunnel (the command)", Kind.NetMQ, "cli", true),
        new("netmq-sshnet", "NetMQ via SSH.NET defaults (no fast path)", Kind.NetMQ, "sshnet", false),
        new("netmq-relay", "NetMQ via a plain TCP relay (socat, no SSH)", Kind.NetMQ, "relay", false),
        new("tcp-ssh-L", "raw TCP via OpenSSH ssh -L", Kind.Tcp, "ssh-L", false),
        new("tcp-tunnel", "raw TCP via ZmqAspire tunnel", Kind.Tcp, "tunnel", false),
        new("tcp-cli", "raw TCP via zmq-tunnel (the command)", Kind.Tcp, "cli", false),
        new("tcp-sshnet", "raw TCP via SSH.NET defaults", Kind.Tcp, "sshnet", false),
        new("netmq-tunnel-w2M", "NetMQ via ZmqAspire tunnel, 2 MiB window (OpenSSH's)", Kind.NetMQ, TunnelTransport.OpenSshWindowId, false),
        new("netmq-tunnel-b137K", "NetMQ via ZmqAspire tunnel, SSH.NET's 137 KB receive buffer (before #19)", Kind.NetMQ, TunnelTransport.SshNetBuffersId, false),
        new("pyzmq", "pyzmq (libzmq) server direct", Kind.NetMQ, "direct", false, "pyzmq"),
        new("pyzmq-ssh-L", "pyzmq server via OpenSSH ssh -L", Kind.NetMQ, "ssh-L", false, "pyzmq"),
        new("pyzmq-tunnel", "pyzmq server via ZmqAspire tunnel", Kind.NetMQ, "tunnel", false, "pyzmq"),
        new("pyzmq-tunnel-w2M", "pyzmq server via ZmqAspire tunnel, 2 MiB window (OpenSSH's)", Kind.NetMQ, TunnelTransport.OpenSshWindowId, false, "pyzmq"),
        new("pyzmq-tunnel-b137K", "pyzmq server via ZmqAspire tunnel, SSH.NET's 137 KB receive buffer (before #19)", Kind.NetMQ, TunnelTransport.SshNetBuffersId, false, "pyzmq"),
    ];

    /// <summary>Gets the mode every ratio "vs direct" of <paramref name="mode"/> is to: the direct mode of the same server.</summary>
    public static string DirectOf(string peer) => peer == "netmq" ? "netmq" : peer;

    public static string[] DefaultIds { get; } = ["tcp", "netmq", "netmq-ssh-L", "netmq-tunnel", "netmq-sshnet"];

    public static string[] SmokeIds { get; } = ["tcp", "netmq", "netmq-ssh-L", "netmq-tunnel", "netmq-cli"];
}

/// <summary>All figures of one benchmark invocation (serialized to the JSON file).</summary>
internal sealed class BenchResults
{
    public required MachineInfo Machine { get; init; }

    public required RunSettings Settings { get; init; }

    public List<ModeInfo> Modes { get; } = [];

    public List<LatencyResult> Latency { get; } = [];

    public List<ThroughputResult> PushPull { get; } = [];

    public List<ThroughputResult> DealerRouter { get; } = [];

    public List<ConcurrencyResult> Concurrency { get; } = [];

    public List<PeakMemory> PeakRss { get; } = [];

    public List<ForwardMemory> MemoryPerForward { get; } = [];

    public List<string> Errors { get; } = [];

    public double DurationSeconds { get; set; }

    public string? LoadAverageAtEnd { get; set; }
}

internal sealed record MachineInfo(
    string Cpu, int Cores, long MemoryBytes, string Os, string Kernel, string Dotnet,
    string NetMQ, string SshNet, string OpenSsh, string LoadAverageAtStart, string Note);

/// <param name="ThroughputSeconds">Traffic per throughput run, in seconds.</param>
/// <param name="Netns">sshd and the servers in a network namespace of their own, reached over a veth pair.</param>
/// <param name="WanRttMs">The round trip a delay line adds in front of sshd and the servers, in milliseconds (0: none).</param>
internal sealed record RunSettings(bool Smoke, int[] Sizes, int Iterations, int Repeats, int[] Clients, int[] ConcurrencySizes, int Forwards, string[] Modes, string[] Phases, double ThroughputSeconds, bool Netns = false, int WanRttMs = 0);

internal sealed record ModeInfo(string Id, string Title, string Kind, string Transport, string? Cipher, string Peer = "netmq");

internal sealed class LatencyResult
{
    public required string Mode { get; init; }

    public required int Size { get; init; }

    public List<LatencyStats> Runs { get; } = [];

    /// <summary>Gets the per-statistic median over the runs.</summary>
    public LatencyStats? Median => Runs.Count == 0
        ? null
        : new LatencyStats(Runs[0].Samples, Med(Runs.Select(r => r.MeanUs)), Med(Runs.Select(r => r.P50Us)), Med(Runs.Select(r => r.P99Us)), Med(Runs.Select(r => r.P999Us)));

    public double? P50VersusNetMQDirect { get; set; }

    public static double Med(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

internal sealed class ThroughputResult
{
    public required string Mode { get; init; }

    public required int Size { get; init; }

    public int? Window { get; init; }

    public List<ThroughputStats> Runs { get; } = [];

    public double? MedianMessagesPerSecond => Runs.Count == 0 ? null : LatencyResult.Med(Runs.Select(r => r.MessagesPerSecond));

    public double? MedianMegabytesPerSecond => Runs.Count == 0 ? null : LatencyResult.Med(Runs.Select(r => r.MegabytesPerSecond));

    public double? VersusNetMQDirect { get; set; }
}

internal sealed class ConcurrencyResult
{
    public required string Mode { get; init; }

    public required int Size { get; init; }

    public required int Clients { get; init; }

    public List<ConcurrencyStats> Runs { get; } = [];

    public double? MedianRoundTripsPerSecond => Runs.Count == 0 ? null : LatencyResult.Med(Runs.Select(r => r.RoundTripsPerSecond));

    public double? MedianP50Us => Runs.Count == 0 ? null : LatencyResult.Med(Runs.Select(r => r.P50Us));

    /// <summary>Gets the median number of the machine's cores busy during the runs (all processes).</summary>
    public double? MedianBusyCores => Runs.Count == 0 ? null : LatencyResult.Med(Runs.Select(r => r.BusyCores));

    public double? VersusOneClient { get; set; }

    public double? VersusNetMQDirect { get; set; }
}

/// <summary>Peak resident memory (VmHWM) while a mode ran, the largest over its measurements.</summary>
internal sealed class PeakMemory
{
    public required string Mode { get; init; }

    public long ClientProcessBytes { get; set; }

    public long ServerProcessBytes { get; set; }

    /// <summary>Gets or sets the peak of the ssh client process (ssh -L modes only): the client side of that tunnel.</summary>
    public long? SshProcessBytes { get; set; }
}

internal sealed record ForwardMemory(
    string Tunnel, int Forwards, double IdleBytesPerForward, double ActiveBytesPerConnection, double OpenActiveMilliseconds, string Note);
