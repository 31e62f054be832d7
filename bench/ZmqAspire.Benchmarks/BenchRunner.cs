using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using NetMQ;
using Renci.SshNet;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Benchmarks;

/// <summary>Runs every selected mode against one sshd and one server process, then reports.</summary>
internal sealed class BenchRunner(RunSettings settings, string outputPath)
{
    private readonly Workloads _work = new(
        timeout: settings.Smoke ? TimeSpan.FromSeconds(15) : TimeSpan.FromSeconds(30),
        budget: settings.Smoke ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(4),
        throughputTime: TimeSpan.FromSeconds(settings.ThroughputSeconds));
    private readonly Dictionary<string, Transport> _transports = [];
    private readonly Dictionary<string, PeakMemory> _peaks = [];
    private readonly Dictionary<string, ServerProcess> _servers = [];
    private readonly Dictionary<string, ServerPorts> _reach = [];
    private readonly List<DelayLine> _lines = [];
    private NetworkNamespace? _netns;
    private Mode[] _modes = [];
    private BenchResults _results = null!;
    private ServerProcess _server = null!;
    private int _sshdPid;
    private long _messages;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        _modes = [.. Mode.All.Where(m => settings.Modes.Contains(m.Id))];
        _results = new BenchResults { Machine = Machine(), Settings = settings };
        Log($"ZmqAspire benchmark{(settings.Smoke ? " (smoke)" : string.Empty)}: modes {string.Join(", ", settings.Modes)}; sizes {string.Join(", ", settings.Sizes.Select(Report.Size))}; "
            + $"{settings.Repeats} run(s) each; load average {_results.Machine.LoadAverageAtStart}");

        var oneWay = TimeSpan.FromMilliseconds(settings.WanRttMs / 2.0);
        using var netns = _netns = settings.Netns ? NetworkNamespace.Create() : null;
        if (netns is not null)
        {
            Log($"network namespace {netns.Name}: veth {netns.HostAddress} <-> {netns.InnerAddress} (MTU {netns.Mtu}); "
                + (settings.WanRttMs > 0 ? $"delay lines add {settings.WanRttMs} ms RTT ({oneWay.TotalMilliseconds:0.#} ms each way)" : "no delay line"));
        }

        using var sshd = Sshd.Start(netns, oneWay);
        _sshdPid = sshd.Pid;
        Log($"sshd on {sshd.Host}:{sshd.Port} ({sshd.Version}), directory {sshd.Directory}");
        using (_server = StartServer("netmq"))
        {
            try
            {
                _servers["netmq"] = _server;
                if (_modes.Any(m => m.Peer == "pyzmq"))
                {
                    _servers["pyzmq"] = StartServer("pyzmq");
                    Log($"pyzmq server: {Proc.Run(ServerProcess.PythonPath, "-c", "import zmq; print('pyzmq', zmq.__version__, 'libzmq', zmq.zmq_version())").Output.Trim()}");
                }

                await StartTransportsAsync(sshd).ConfigureAwait(false);
                foreach (var mode in _modes)
                {
                    _transports.TryGetValue(mode.TransportKey, out var transport);
                    _results.Modes.Add(new ModeInfo(mode.Id, mode.Title, mode.Kind.ToString(), mode.Transport, transport?.Cipher, mode.Peer));
                    _peaks[mode.Id] = new PeakMemory { Mode = mode.Id };
                }

                if (settings.Phases.Contains("latency"))
                {
                    RunLatency(cancellationToken);
                }

                if (settings.Phases.Contains("throughput"))
                {
                    RunThroughput(cancellationToken);
                }

                if (settings.Phases.Contains("concurrency"))
                {
                    RunConcurrency(cancellationToken);
                }

                _results.PeakRss.AddRange(_modes.Select(m => _peaks[m.Id]));
            }
            finally
            {
                foreach (var transport in _transports.Values)
                {
                    transport.Dispose();
                }

                foreach (var server in _servers.Values.Where(s => s != _server))
                {
                    server.Dispose();
                }

                _lines.ForEach(l => l.Dispose());
            }

            if (settings.Phases.Contains("memory"))
            {
                await MeasureForwardMemoryAsync(sshd).ConfigureAwait(false);
            }
        }

        NetMQConfig.Cleanup(block: false);
        _results.DurationSeconds = clock.Elapsed.TotalSeconds;
        _results.LoadAverageAtEnd = LoadAverage();
        Report.ComputeRatios(_results);
        var markdown = Report.Markdown(_results);
        Console.WriteLine();
        Console.WriteLine(markdown);
        var directory = Path.GetDirectoryName(Path.GetFullPath(outputPath))!;
        Directory.CreateDirectory(directory);
        var json = new JsonSerializerOptions { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
        json.Converters.Add(new JsonStringEnumConverter());
        await File.WriteAllTextAsync(outputPath, JsonSerializer.Serialize(_results, json), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.ChangeExtension(outputPath, ".md"), markdown, cancellationToken).ConfigureAwait(false);
        Log($"wrote {outputPath} and {Path.ChangeExtension(outputPath, ".md")} in {clock.Elapsed.TotalSeconds:0.0} s");

        var missing = Report.Missing(_results, _modes);
        foreach (var line in _results.Errors)
        {
            await Console.Error.WriteLineAsync("error: " + line).ConfigureAwait(false);
        }

        if (missing.Count > 0)
        {
            await Console.Error.WriteLineAsync($"FAILED: {missing.Count} figure(s) missing:\n  " + string.Join("\n  ", missing)).ConfigureAwait(false);
            return 1;
        }

        Log($"{(settings.Smoke ? "smoke" : "benchmark")} passed: every mode produced numbers");
        return 0;
    }

    /// <summary>
    /// Starts a server and records how the benchmark reaches it directly (<see cref="_reach"/>):
    /// its own ports on 127.0.0.1, or, with a network namespace, a delay line on 127.0.0.1 per port
    /// (delaying by the WAN mode's half round trip, or not at all) to the namespace's address.
    /// </summary>
    private ServerProcess StartServer(string peer)
    {
        if (_netns is null)
        {
            var local = ServerProcess.Start(peer);
            _reach[peer] = local.Ports;
            return local;
        }

        var server = ServerProcess.Start(peer, "0.0.0.0", _netns.Name);
        var oneWay = TimeSpan.FromMilliseconds(settings.WanRttMs / 2.0);
        int Line(int port)
        {
            if (port == 0)
            {
                return 0;
            }

            var line = DelayLine.Start(_netns.InnerAddress, port, oneWay);
            _lines.Add(line);
            return line.Port;
        }

        var p = server.Ports;
        _reach[peer] = new ServerPorts(Line(p.Rep), Line(p.Router), Line(p.Pull), Line(p.Control), Line(p.Tcp));
        return server;
    }

    private static void Log(string message) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[bench {DateTime.Now:HH:mm:ss}] {message}"));

    private async Task StartTransportsAsync(Sshd sshd)
    {
        var needed = _modes.Where(m => m.Peer == "netmq").Select(m => m.Transport).ToHashSet();
        _transports["direct"] = new DirectTransport(_reach["netmq"]);
        if (_servers.TryGetValue("pyzmq", out var pyzmq))
        {
            // The pyzmq server's own tunnels: another ssh -L process, another SSH session of ours.
            var modes = _modes.Where(m => m.Peer == "pyzmq").Select(m => m.Transport).ToHashSet();
            _transports["direct@pyzmq"] = new DirectTransport(_reach["pyzmq"]);
            if (modes.Contains("ssh-L"))
            {
                _transports["ssh-L@pyzmq"] = new SshLTransport(sshd, pyzmq.Ports);
            }

            if (modes.Contains("tunnel"))
            {
                _transports["tunnel@pyzmq"] = await TunnelTransport.StartAsync(sshd, pyzmq.Ports).ConfigureAwait(false);
            }

            if (modes.Contains(TunnelTransport.OpenSshWindowId))
            {
                _transports[TunnelTransport.OpenSshWindowId + "@pyzmq"] = await TunnelTransport.StartAsync(sshd, pyzmq.Ports, TunnelTransport.OpenSshWindow).ConfigureAwait(false);
            }

            if (modes.Contains(TunnelTransport.SshNetBuffersId))
            {
                _transports[TunnelTransport.SshNetBuffersId + "@pyzmq"] = await TunnelTransport.StartAsync(sshd, pyzmq.Ports, sshNetBuffers: true).ConfigureAwait(false);
            }
        }

        if (needed.Contains(TunnelTransport.OpenSshWindowId))
        {
            _transports[TunnelTransport.OpenSshWindowId] = await TunnelTransport.StartAsync(sshd, _server.Ports, TunnelTransport.OpenSshWindow).ConfigureAwait(false);
        }

        if (needed.Contains(TunnelTransport.SshNetBuffersId))
        {
            _transports[TunnelTransport.SshNetBuffersId] = await TunnelTransport.StartAsync(sshd, _server.Ports, sshNetBuffers: true).ConfigureAwait(false);
        }

        if (needed.Contains("ssh-L"))
        {
            _transports["ssh-L"] = new SshLTransport(sshd, _server.Ports);
        }

        if (needed.Contains("tunnel"))
        {
            _transports["tunnel"] = await TunnelTransport.StartAsync(sshd, _server.Ports).ConfigureAwait(false);
        }

        if (needed.Contains("cli"))
        {
            _transports["cli"] = CliTransport.Start(sshd, _server.Ports);
        }

        if (needed.Contains("sshnet"))
        {
            _transports["sshnet"] = await PlainSshNetTransport.StartAsync(sshd, _server.Ports).ConfigureAwait(false);
        }

        if (needed.Contains("relay"))
        {
            _transports["relay"] = RelayTransport.Start(_server.Ports);
        }

        foreach (var t in _transports.Values.Where(t => t.Cipher is not null).DistinctBy(t => t.Id))
        {
            Log($"{t.Title}: cipher {t.Cipher}");
        }
    }

    // ------------------------------------------------------------------ counts

    private int LatencySamples(int size) =>
        (int)Math.Max(settings.Smoke ? 20 : 100, Math.Min(settings.Iterations, (long)settings.Iterations * 32 * 1024 / size));

    /// <summary>The warm-up of a throughput run (its rate sizes the run, which lasts <see cref="RunSettings.ThroughputSeconds"/>).</summary>
    /// <remarks>
    /// At least 50 messages (4 in a smoke run), but never more than 64 MiB of them (and no fewer
    /// than 4): 50 messages of 16 MiB would be 800 MiB of warm-up, many seconds through a tunnel.
    /// </remarks>
    private long ThroughputWarmup(int size) =>
        Math.Max(
            settings.Smoke ? 4 : Math.Clamp(64L * 1024 * 1024 / size, 4, 50),
            Math.Min(settings.Iterations * 2L, settings.Iterations * 2_621L / size));

    /// <summary>At most this many messages per throughput run, whatever the rate (a sanity bound, not a size).</summary>
    private const long ThroughputCap = 200_000_000;

    private static int Warmup(long count) => (int)Math.Max(5, count / 10);

    // ------------------------------------------------------------------ phases

    private void RunLatency(CancellationToken cancellationToken)
    {
        foreach (var size in settings.Sizes)
        {
            var results = _modes.ToDictionary(m => m.Id, m => new LatencyResult { Mode = m.Id, Size = size });
            _results.Latency.AddRange(results.Values);
            for (var run = 0; run < settings.Repeats; run++)
            {
                foreach (var mode in _modes)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var samples = LatencySamples(size);
                    Measure(mode, $"latency {Report.Size(size)}", () =>
                    {
                        var stats = _work.Latency(mode.Kind, Ports(mode), size, Warmup(samples), samples);
                        results[mode.Id].Runs.Add(stats);
                        _messages = Warmup(samples) + stats.Samples;
                        return $"p50 {stats.P50Us:0.0} us, p99 {stats.P99Us:0.0} us, max {stats.MaxUs:0} us, {stats.Stalls}/{stats.Samples} > {LatencyStats.StallFactor:0}x p50";
                    });
                }
            }
        }
    }

    private void RunThroughput(CancellationToken cancellationToken)
    {
        foreach (var size in settings.Sizes)
        {
            var push = _modes.ToDictionary(m => m.Id, m => new ThroughputResult { Mode = m.Id, Size = size });
            var dealer = _modes.ToDictionary(m => m.Id, m => new ThroughputResult { Mode = m.Id, Size = size, Window = Workloads.Window(size) });
            _results.PushPull.AddRange(push.Values);
            _results.DealerRouter.AddRange(dealer.Values);
            for (var run = 0; run < settings.Repeats; run++)
            {
                foreach (var mode in _modes)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var warmup = ThroughputWarmup(size);
                    Measure(mode, $"push/pull {Report.Size(size)}", () =>
                    {
                        var stats = _work.Stream(mode.Kind, Ports(mode), _reach[mode.Peer].Control, size, warmup, ThroughputCap);
                        push[mode.Id].Runs.Add(stats);
                        _messages = warmup + stats.Messages;
                        return $"{stats.MessagesPerSecond:0} msg/s, {stats.MegabytesPerSecond:0.0} MB/s";
                    });
                    Measure(mode, $"dealer/router {Report.Size(size)}", () =>
                    {
                        var stats = _work.Pipelined(mode.Kind, Ports(mode), size, warmup, ThroughputCap);
                        dealer[mode.Id].Runs.Add(stats);
                        _messages = warmup + stats.Messages;
                        return $"{stats.MessagesPerSecond:0} msg/s, {stats.MegabytesPerSecond:0.0} MB/s";
                    });
                }
            }
        }
    }

    private void RunConcurrency(CancellationToken cancellationToken)
    {
        foreach (var size in settings.ConcurrencySizes)
        {
            foreach (var k in settings.Clients)
            {
                var results = _modes.ToDictionary(m => m.Id, m => new ConcurrencyResult { Mode = m.Id, Size = size, Clients = k });
                _results.Concurrency.AddRange(results.Values);
                for (var run = 0; run < settings.Repeats; run++)
                {
                    foreach (var mode in _modes)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var perClient = Math.Max(10, LatencySamples(size) / 2);
                        Measure(mode, $"{k} client(s) {Report.Size(size)}", () =>
                        {
                            var stats = _work.Concurrent(mode.Kind, Ports(mode), k, size, Warmup(perClient), perClient);
                            results[mode.Id].Runs.Add(stats);
                            return $"{stats.RoundTripsPerSecond:0} round trips/s, p50 {stats.P50Us:0.0} us, {stats.BusyCores:0.00} cores busy";
                        });
                    }
                }
            }
        }
    }

    private ServerPorts Ports(Mode mode) => _transports[mode.TransportKey].Ports;

    /// <summary>Runs one measurement, recording the peak RSS of each side and any failure.</summary>
    private void Measure(Mode mode, string what, Func<string> body)
    {
        var helper = _transports[mode.TransportKey].HelperPid;
        var serverPid = _servers[mode.Peer].Pid;
        GC.Collect();
        Proc.ResetPeak(Proc.SelfPid);
        Proc.ResetPeak(serverPid);
        if (helper is { } h)
        {
            Proc.ResetPeak(h);
        }

        var profile = RelayProfile.Start(helper, _sshdPid, serverPid);
        _messages = 0;
        var clock = Stopwatch.StartNew();
        var gcPause = GC.GetTotalPauseDuration();
        var gen2 = GC.CollectionCount(2);
        string line;
        string? perMessage = null;
        try
        {
            var figures = body();
            // This process's GC pauses stop our in-process tunnel too (not ssh -L, a process of its own).
            line = $"{mode.Id,-13} {what,-22} {figures} ({clock.Elapsed.TotalSeconds:0.0} s; GC paused {(GC.GetTotalPauseDuration() - gcPause).TotalMilliseconds:0} ms, {GC.CollectionCount(2) - gen2} gen2";
            perMessage = profile is not null && _messages > 0 ? profile.Stop(_messages) : null;
        }
        catch (Exception ex)
        {
            var message = $"{mode.Id} {what}: {ex.GetType().Name}: {ex.Message}";
            _results.Errors.Add(message);
            line = "FAILED " + message + " (";
        }
        finally
        {
            profile?.Dispose();
        }

        var peak = _peaks[mode.Id];
        var client = Proc.PeakRss(Proc.SelfPid) ?? 0;
        var server = Proc.PeakRss(serverPid) ?? 0;
        Log(string.Create(CultureInfo.InvariantCulture, $"{line}; peak RSS client {client / 1048576.0:0} MiB, server {server / 1048576.0:0} MiB)"));
        if (perMessage is not null)
        {
            Console.WriteLine(perMessage);
        }
        peak.ClientProcessBytes = Math.Max(peak.ClientProcessBytes, client);
        peak.ServerProcessBytes = Math.Max(peak.ServerProcessBytes, server);
        if (helper is { } pid)
        {
            peak.SshProcessBytes = Math.Max(peak.SshProcessBytes ?? 0, Proc.PeakRss(pid) ?? 0);
        }
    }

    // ------------------------------------------------------------------ memory per forward

    private async Task MeasureForwardMemoryAsync(Sshd sshd)
    {
        var n = settings.Forwards;
        var transports = _modes.Select(m => m.Transport).Where(t => t != "direct").Distinct().ToList();
        foreach (var transport in transports)
        {
            try
            {
                var result = transport switch
                {
                    "tunnel" => await InProcessForwardsAsync("ZmqAspire tunnel", n, async () =>
                    {
                        var session = await SshTunnelSession.ConnectAsync(sshd.TunnelOptions()).ConfigureAwait(false);
                        return (() => session.OpenLocalForward(new TcpEndpoint("127.0.0.1", _server.Ports.Tcp)).LocalPort, (IDisposable)session);
                    }).ConfigureAwait(false),
                    "sshnet" => await InProcessForwardsAsync("SSH.NET defaults", n, async () =>
                    {
                        var client = await PlainSshNetTransport.ConnectClientAsync(sshd).ConfigureAwait(false);
                        return (() => PlainSshNetTransport.Forward(client, _server.Ports.Tcp), new Disposable(() => PlainSshNetTransport.Close(client)));
                    }).ConfigureAwait(false),
                    "ssh-L" => SshForwardMemory(sshd, n),
                    _ => null,
                };
                if (result is not null)
                {
                    _results.MemoryPerForward.Add(result);
                    Log($"memory per forward, {result.Tunnel}: {result.IdleBytesPerForward / 1024:0.0} KiB idle, {result.ActiveBytesPerConnection / 1024:0.0} KiB per active connection; "
                        + $"{n} connections opened in {result.OpenActiveMilliseconds:0} ms");
                }
            }
            catch (Exception ex)
            {
                _results.Errors.Add($"memory per forward ({transport}): {ex.GetType().Name}: {ex.Message}");
                Log($"FAILED memory per forward ({transport}): {ex.Message}");
            }
        }
    }

    /// <summary>
    /// Opens n forwards on one fresh session in this process, then one connection through each
    /// (a raw TCP echo round trip proves the channel is open), reading VmRSS before and after.
    /// </summary>
    private async Task<ForwardMemory> InProcessForwardsAsync(string name, int n, Func<Task<(Func<int> Open, IDisposable Owner)>> connect)
    {
        var (open, owner) = await connect().ConfigureAwait(false);
        var sockets = new List<Socket>();
        try
        {
            // One forward and connection first, so one-time costs (JIT, pools) are not counted.
            sockets.Add(EchoOnce(open()));
            Proc.SettleManagedHeap();
            var before = Proc.Rss(Proc.SelfPid)!.Value;
            var ports = Enumerable.Range(0, n).Select(_ => open()).ToList();
            Proc.SettleManagedHeap();
            var afterForwards = Proc.Rss(Proc.SelfPid)!.Value;
            var clock = Stopwatch.StartNew();
            foreach (var port in ports)
            {
                sockets.Add(EchoOnce(port));
            }

            var openMs = clock.Elapsed.TotalMilliseconds;
            Proc.SettleManagedHeap();
            var afterConnections = Proc.Rss(Proc.SelfPid)!.Value;
            return new ForwardMemory(name, n, (afterForwards - before) / (double)n, (afterConnections - afterForwards) / (double)n, openMs,
                "VmRSS of the benchmark process after a full GC; a connection includes the client socket's own buffers");
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }

            owner.Dispose();
        }
    }

    private ForwardMemory SshForwardMemory(Sshd sshd, int n)
    {
        using var one = SshForward.Start(sshd, [_server.Ports.Tcp], "mem-1");
        using var many = SshForward.Start(sshd, Enumerable.Repeat(_server.Ports.Tcp, n).ToList(), "mem-n");
        Thread.Sleep(300);
        var oneRss = Proc.Rss(one.Pid)!.Value;
        var manyRss = Proc.Rss(many.Pid)!.Value;
        var sockets = new List<Socket>();
        try
        {
            var clock = Stopwatch.StartNew();
            foreach (var port in many.LocalPorts)
            {
                sockets.Add(EchoOnce(port));
            }

            var openMs = clock.Elapsed.TotalMilliseconds;
            Thread.Sleep(300);
            var active = Proc.Rss(many.Pid)!.Value;
            return new ForwardMemory("OpenSSH ssh -L", n, (manyRss - oneRss) / (double)Math.Max(1, n - 1), (active - manyRss) / (double)n, openMs,
                "VmRSS of the ssh process: one with n -L forwards against one with one");
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    private static Socket EchoOnce(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 30_000 };
        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        RawTcp.SendAll(socket, [(byte)'E', 0, 0, 0, 1, 42]);
        var reply = new byte[5];
        if (!RawTcp.ReadExactly(socket, reply) || reply[4] != 42)
        {
            socket.Dispose();
            throw new IOException($"no echo through the forward on port {port}");
        }

        return socket;
    }

    // ------------------------------------------------------------------ machine

    private static MachineInfo Machine()
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        var memKb = long.Parse(File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        var os = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?.Split('=', 2)[1].Trim('"') ?? "?"
            : "?";
        static string Version(Assembly a) => a.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? a.GetName().Version?.ToString() ?? "?";
        return new MachineInfo(
            cpu,
            Environment.ProcessorCount,
            memKb * 1024,
            os,
            File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
            RuntimeInformation.FrameworkDescription,
            Version(typeof(NetMQSocket).Assembly),
            Version(typeof(SshClient).Assembly),
            Proc.Run(SshForward.SshPath, "-V").Output.Trim(),
            LoadAverage(),
            "Shared machine: other workloads may run at the same time; figures are medians of the runs.");
    }

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
}
