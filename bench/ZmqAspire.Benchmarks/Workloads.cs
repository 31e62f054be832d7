using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.Benchmarks;

/// <summary>What one mode measures with: raw TCP sockets or NetMQ sockets, over one transport.</summary>
internal enum Kind
{
    Tcp,
    NetMQ,
}

/// <summary>Latency samples of one run, in microseconds.</summary>
/// <param name="Stalls">
/// Round trips slower than <see cref="StallFactor"/> times the run's p50: an intermittent stall
/// (issue #19) shows here when it is too rare to move p50 and hides among noise in p99.
/// </param>
/// <param name="MaxUs">The slowest round trip of the run.</param>
internal sealed record LatencyStats(int Samples, double MeanUs, double P50Us, double P99Us, double P999Us, int Stalls = 0, double MaxUs = 0)
{
    /// <summary>A round trip slower than this many times the run's p50 counts as a stall.</summary>
    public const double StallFactor = 3;

    public static LatencyStats From(double[] samples)
    {
        Array.Sort(samples);
        var p50 = Percentile(samples, 0.50);
        return new LatencyStats(
            samples.Length, samples.Average(), p50, Percentile(samples, 0.99), Percentile(samples, 0.999),
            samples.Count(s => s > StallFactor * p50), samples.Length == 0 ? 0 : samples[^1]);
    }

    /// <summary>Nearest-rank percentile of sorted samples.</summary>
    public static double Percentile(double[] sorted, double p)
    {
        var rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>Messages moved in a time.</summary>
internal sealed record ThroughputStats(long Messages, int Size, double Seconds)
{
    public double MessagesPerSecond => Messages / Seconds;

    /// <summary>Gets payload megabytes (10^6 bytes) per second, one way.</summary>
    public double MegabytesPerSecond => Messages * (double)Size / Seconds / 1e6;
}

/// <summary>K clients doing REQ/REP round trips at once over one transport (one SSH session).</summary>
/// <summary>One concurrent run; <paramref name="BusyCores"/> is how many of the machine's cores were busy meanwhile (every process).</summary>
internal sealed record ConcurrencyStats(int Clients, long RoundTrips, double Seconds, double P50Us, double P99Us, double BusyCores)
{
    public double RoundTripsPerSecond => RoundTrips / Seconds;
}

/// <summary>The benchmark loops. Every receive has a timeout, so a broken mode fails instead of hanging.</summary>
/// <remarks>
/// Each measurement also has a time budget: a latency run stops taking samples when it is
/// spent (keeping at least a tenth of them). A throughput run is sized by time, not by a count:
/// it moves as many messages as its warm-up's rate moves in <c>throughputTime</c>, so every mode
/// and size runs about as long (a 64 B run of a fixed count lasted 0.05 s, too short to trust), and
/// a mode that stalls (40 ms per round trip) cannot take minutes.
/// </remarks>
internal sealed class Workloads(TimeSpan timeout, TimeSpan budget, TimeSpan throughputTime)
{
    private readonly TimeSpan _timeout = timeout;
    private readonly TimeSpan _budget = budget;
    private readonly TimeSpan _throughputTime = throughputTime;

    /// <summary>Whether a sampling loop has used its budget (it keeps at least 100 samples, or a tenth if fewer).</summary>
    private bool Spent(Stopwatch clock, int taken, int count) => taken >= Math.Min(100, Math.Max(1, count / 10)) && clock.Elapsed > _budget;

    /// <summary>The count the warm-up's rate moves in the throughput time (at least the warm-up's count, at most <paramref name="cap"/>).</summary>
    private long Fit(long cap, long warmup, TimeSpan warmupTime)
    {
        var perMessage = warmupTime.TotalSeconds / Math.Max(1, warmup);
        var timed = perMessage <= 0 ? cap : (long)(_throughputTime.TotalSeconds / perMessage);
        return Math.Clamp(timed, Math.Min(cap, warmup), cap);
    }

    private static string Endpoint(int port) => string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{port}");

    private static byte[] Payload(int size)
    {
        var payload = new byte[size];
        for (var i = 0; i < size; i++)
        {
            payload[i] = (byte)(i * 31);
        }

        return payload;
    }

    // ---------------------------------------------------------------- latency

    public LatencyStats Latency(Kind kind, ServerPorts ports, int size, int warmup, int samples) =>
        kind == Kind.NetMQ ? NetMqLatency(ports.Rep, size, warmup, samples) : TcpLatency(ports.Tcp, size, warmup, samples);

    private LatencyStats NetMqLatency(int port, int size, int warmup, int count)
    {
        using var socket = new RequestSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Connect(Endpoint(port));
        var payload = Payload(size);
        var msg = default(Msg);
        for (var i = 0; i < warmup; i++)
        {
            NetMqRoundTrip(socket, payload, ref msg);
        }

        var samples = new double[count];
        var clock = Stopwatch.StartNew();
        var taken = 0;
        while (taken < count && !Spent(clock, taken, count))
        {
            var start = Stopwatch.GetTimestamp();
            NetMqRoundTrip(socket, payload, ref msg);
            samples[taken++] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        return LatencyStats.From(samples[..taken]);
    }

    private void NetMqRoundTrip(RequestSocket socket, byte[] payload, ref Msg msg)
    {
        msg.InitGC(payload, payload.Length);
        socket.Send(ref msg, more: false);
        msg.InitEmpty();
        if (!socket.TryReceive(ref msg, _timeout))
        {
            throw new TimeoutException($"no reply within {_timeout.TotalSeconds} s");
        }

        if (msg.Size != payload.Length)
        {
            throw new InvalidDataException($"reply of {msg.Size} bytes to a {payload.Length}-byte request");
        }

        msg.Close();
    }

    private LatencyStats TcpLatency(int port, int size, int warmup, int count)
    {
        using var socket = ConnectTcp(port, 'E');
        var frame = new byte[4 + size];
        BinaryPrimitives.WriteInt32BigEndian(frame, size);
        Payload(size).CopyTo(frame, 4);
        var reply = new byte[4 + size];
        for (var i = 0; i < warmup; i++)
        {
            TcpRoundTrip(socket, frame, reply);
        }

        var samples = new double[count];
        var clock = Stopwatch.StartNew();
        var taken = 0;
        while (taken < count && !Spent(clock, taken, count))
        {
            var start = Stopwatch.GetTimestamp();
            TcpRoundTrip(socket, frame, reply);
            samples[taken++] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        return LatencyStats.From(samples[..taken]);
    }

    private static void TcpRoundTrip(Socket socket, byte[] frame, byte[] reply)
    {
        RawTcp.SendAll(socket, frame);
        if (!RawTcp.ReadExactly(socket, reply))
        {
            throw new IOException("the echo server closed the connection");
        }
    }

    private Socket ConnectTcp(int port, char mode)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
        {
            NoDelay = true,
            ReceiveTimeout = (int)_timeout.TotalMilliseconds,
            SendTimeout = (int)_timeout.TotalMilliseconds,
        };
        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        RawTcp.SendAll(socket, [(byte)mode]);
        return socket;
    }

    // ---------------------------------------------------------------- one-way stream (PUSH/PULL)

    public ThroughputStats Stream(Kind kind, ServerPorts ports, int controlPort, int size, long warmup, long count) =>
        kind == Kind.NetMQ ? PushPull(ports.Pull, controlPort, size, warmup, count) : TcpStream(ports.Tcp, size, warmup, count);

    private ThroughputStats PushPull(int port, int controlPort, int size, long warmup, long count)
    {
        using var control = new RequestSocket();
        control.Options.Linger = TimeSpan.Zero;
        control.Connect(Endpoint(controlPort));
        using var push = new PushSocket();
        push.Options.Linger = TimeSpan.Zero;
        // Bounded queue: about 8 MiB in flight whatever the size (a 1 MiB message x 1000 would be 1 GB).
        push.Options.SendHighWatermark = (int)Math.Clamp(8L * 1024 * 1024 / size, 4, 1000);
        push.Connect(Endpoint(port));
        var payload = Payload(size);
        var warm = Stopwatch.StartNew();
        PushBatch(push, control, payload, warmup);
        count = Fit(count, warmup, warm.Elapsed);
        var start = Stopwatch.GetTimestamp();
        PushBatch(push, control, payload, count);
        return new ThroughputStats(count, size, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    private void PushBatch(PushSocket push, RequestSocket control, byte[] payload, long count)
    {
        Command(control, string.Create(CultureInfo.InvariantCulture, $"expect {count}"));
        var msg = default(Msg);
        for (long i = 0; i < count; i++)
        {
            msg.InitGC(payload, payload.Length);
            if (!push.TrySend(ref msg, _timeout, more: false))
            {
                throw new TimeoutException($"PUSH could not send within {_timeout.TotalSeconds} s");
            }
        }

        var reply = Command(control, string.Create(CultureInfo.InvariantCulture, $"wait {(int)_timeout.TotalMilliseconds}"));
        if (!reply.StartsWith("done", StringComparison.Ordinal))
        {
            throw new TimeoutException($"the PULL side did not receive {count} messages: {reply}");
        }
    }

    private string Command(RequestSocket control, string command)
    {
        control.SendFrame(command);
        return control.TryReceiveFrameString(_timeout + TimeSpan.FromSeconds(5), out var reply)
            ? reply
            : throw new TimeoutException($"no answer to '{command}' from the server's control socket");
    }

    private ThroughputStats TcpStream(int port, int size, long warmup, long count)
    {
        using var socket = ConnectTcp(port, 'S');
        var payload = Payload(size);
        var warm = Stopwatch.StartNew();
        TcpSink(socket, payload, warmup, first: true);
        count = Fit(count, warmup, warm.Elapsed);
        var start = Stopwatch.GetTimestamp();
        TcpSink(socket, payload, count, first: false);
        return new ThroughputStats(count, size, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    private static void TcpSink(Socket socket, byte[] payload, long count, bool first)
    {
        var header = new byte[13];
        header[0] = (byte)'S';
        BinaryPrimitives.WriteInt64BigEndian(header.AsSpan(1), count);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(9), payload.Length);
        // The connection's first mode byte was sent by ConnectTcp.
        RawTcp.SendAll(socket, first ? header.AsSpan(1) : header);
        for (long i = 0; i < count; i++)
        {
            RawTcp.SendAll(socket, payload);
        }

        var ack = new byte[1];
        if (!RawTcp.ReadExactly(socket, ack))
        {
            throw new IOException("the sink closed the connection");
        }
    }

    // ---------------------------------------------------------------- pipelined request/reply (DEALER/ROUTER)

    /// <summary>Gets the number of requests kept in flight for a size: about 8 MiB, 2 to 1000 messages.</summary>
    public static int Window(int size) => (int)Math.Clamp(8L * 1024 * 1024 / size, 2, 1000);

    public ThroughputStats Pipelined(Kind kind, ServerPorts ports, int size, long warmup, long count) =>
        kind == Kind.NetMQ ? DealerRouter(ports.Router, size, warmup, count) : TcpPipelined(ports.Tcp, size, warmup, count);

    private ThroughputStats DealerRouter(int port, int size, long warmup, long count)
    {
        using var dealer = new DealerSocket();
        dealer.Options.Linger = TimeSpan.Zero;
        dealer.Options.SendHighWatermark = 2000;
        dealer.Options.ReceiveHighWatermark = 2000;
        dealer.Connect(Endpoint(port));
        var payload = Payload(size);
        var window = Window(size);
        var warm = Stopwatch.StartNew();
        DealerBatch(dealer, payload, window, warmup);
        count = Fit(count, warmup, warm.Elapsed);
        var start = Stopwatch.GetTimestamp();
        DealerBatch(dealer, payload, window, count);
        return new ThroughputStats(count, size, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    private void DealerBatch(DealerSocket dealer, byte[] payload, int window, long count)
    {
        var msg = default(Msg);
        long sent = 0;
        void Send(ref Msg m)
        {
            m.InitGC(payload, payload.Length);
            if (!dealer.TrySend(ref m, _timeout, more: false))
            {
                throw new TimeoutException("DEALER could not send");
            }

            sent++;
        }

        while (sent < count && sent < window)
        {
            Send(ref msg);
        }

        msg.InitEmpty();
        for (long received = 0; received < count; received++)
        {
            if (!dealer.TryReceive(ref msg, _timeout))
            {
                throw new TimeoutException($"DEALER: reply {received} of {count} did not come within {_timeout.TotalSeconds} s");
            }

            msg.Close();
            if (sent < count)
            {
                Send(ref msg);
            }

            msg.InitEmpty();
        }
    }

    private ThroughputStats TcpPipelined(int port, int size, long warmup, long count)
    {
        using var socket = ConnectTcp(port, 'E');
        var frame = new byte[4 + size];
        BinaryPrimitives.WriteInt32BigEndian(frame, size);
        Payload(size).CopyTo(frame, 4);
        var warm = Stopwatch.StartNew();
        TcpPipelinedBatch(socket, frame, warmup);
        count = Fit(count, warmup, warm.Elapsed);
        var start = Stopwatch.GetTimestamp();
        TcpPipelinedBatch(socket, frame, count);
        return new ThroughputStats(count, size, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    private static void TcpPipelinedBatch(Socket socket, byte[] frame, long count)
    {
        // The echo reads a frame, then writes it: a separate writer keeps both directions moving.
        var writer = new Thread(() =>
        {
            for (long i = 0; i < count; i++)
            {
                RawTcp.SendAll(socket, frame);
            }
        })
        { IsBackground = true, Name = "bench-tcp-writer" };
        writer.Start();
        var buffer = new byte[Math.Max(frame.Length, 256 * 1024)];
        var total = count * frame.Length;
        while (total > 0)
        {
            var n = socket.Receive(buffer, 0, (int)Math.Min(buffer.Length, total), SocketFlags.None);
            if (n == 0)
            {
                throw new IOException("the echo server closed the connection");
            }

            total -= n;
        }

        writer.Join();
    }

    // ---------------------------------------------------------------- concurrent clients

    public ConcurrencyStats Concurrent(Kind kind, ServerPorts ports, int clients, int size, int warmup, int perClient)
    {
        var latencies = new double[clients][];
        var errors = new Exception?[clients];
        using var ready = new Barrier(clients + 1);
        using var go = new Barrier(clients + 1);
        var threads = new Thread[clients];
        for (var c = 0; c < clients; c++)
        {
            var index = c;
            threads[c] = new Thread(() =>
            {
                try
                {
                    latencies[index] = kind == Kind.NetMQ
                        ? ConcurrentNetMq(ports.Rep, size, warmup, perClient, ready, go)
                        : ConcurrentTcp(ports.Tcp, size, warmup, perClient, ready, go);
                }
                catch (Exception ex)
                {
                    errors[index] = ex;
                    // Release the others: a failed client must not leave them waiting on the barriers.
                    ready.RemoveParticipant();
                    go.RemoveParticipant();
                }
            })
            { IsBackground = true, Name = $"bench-client-{c}" };
            threads[c].Start();
        }

        ready.SignalAndWait(_timeout);
        var start = Stopwatch.GetTimestamp();
        var busyAtStart = Proc.MachineBusySeconds();
        go.SignalAndWait(_timeout);
        foreach (var thread in threads)
        {
            if (!thread.Join(_timeout * 4))
            {
                throw new TimeoutException("a concurrent client did not finish");
            }
        }

        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var busyCores = (Proc.MachineBusySeconds() - busyAtStart) / seconds;
        if (errors.FirstOrDefault(e => e is not null) is { } error)
        {
            throw new InvalidOperationException($"a concurrent client failed: {error.Message}", error);
        }

        var all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        return new ConcurrencyStats(clients, all.Length, seconds, LatencyStats.Percentile(all, 0.5), LatencyStats.Percentile(all, 0.99), busyCores);
    }

    private double[] ConcurrentNetMq(int port, int size, int warmup, int count, Barrier ready, Barrier go)
    {
        using var socket = new RequestSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Connect(Endpoint(port));
        var payload = Payload(size);
        var msg = default(Msg);
        for (var i = 0; i < warmup; i++)
        {
            NetMqRoundTrip(socket, payload, ref msg);
        }

        ready.SignalAndWait(_timeout);
        go.SignalAndWait(_timeout);
        var samples = new double[count];
        var clock = Stopwatch.StartNew();
        var taken = 0;
        while (taken < count && !Spent(clock, taken, count))
        {
            var start = Stopwatch.GetTimestamp();
            NetMqRoundTrip(socket, payload, ref msg);
            samples[taken++] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        return samples[..taken];
    }

    private double[] ConcurrentTcp(int port, int size, int warmup, int count, Barrier ready, Barrier go)
    {
        using var socket = ConnectTcp(port, 'E');
        var frame = new byte[4 + size];
        BinaryPrimitives.WriteInt32BigEndian(frame, size);
        var reply = new byte[4 + size];
        for (var i = 0; i < warmup; i++)
        {
            TcpRoundTrip(socket, frame, reply);
        }

        ready.SignalAndWait(_timeout);
        go.SignalAndWait(_timeout);
        var samples = new double[count];
        var clock = Stopwatch.StartNew();
        var taken = 0;
        while (taken < count && !Spent(clock, taken, count))
        {
            var start = Stopwatch.GetTimestamp();
            TcpRoundTrip(socket, frame, reply);
            samples[taken++] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        return samples[..taken];
    }
}
