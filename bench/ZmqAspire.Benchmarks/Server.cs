using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.Benchmarks;

/// <summary>The ports the server process listens on, all on 127.0.0.1.</summary>
/// <remarks>The pyzmq server has no raw TCP echo: its <see cref="Tcp"/> is 0, and a tunnel forwards only the others.</remarks>
internal sealed record ServerPorts(int Rep, int Router, int Pull, int Control, int Tcp)
{
    /// <summary>Gets the ports a tunnel forwards (all but the control socket, which is reached directly).</summary>
    public int[] Forwarded => Tcp > 0 ? [Rep, Router, Pull, Tcp] : [Rep, Router, Pull];

    /// <summary>Gets the ports as seen through a tunnel, from the local ports of <see cref="Forwarded"/> in order.</summary>
    public ServerPorts Through(IReadOnlyList<int> local) => new(local[0], local[1], local[2], Control, Tcp > 0 ? local[3] : 0);
}

/// <summary>
/// The benchmark's server side, run as a separate process (<c>serve</c> command) so its memory
/// and CPU are its own: a REP echo, a ROUTER echo, a PULL sink with a control REP socket, and a
/// raw TCP echo/sink. Exits when its standard input closes (the parent ended).
/// </summary>
internal static class ServerMain
{
    /// <summary>The largest message the servers accept (and the benchmark sends), in bytes: the product server's limit.</summary>
    internal const int MaxMessageSize = 16 * 1024 * 1024;

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);
    private static volatile bool s_stop;
    private static string s_bind = "tcp://127.0.0.1";
    private static IPAddress s_tcpBind = IPAddress.Loopback;

    // PULL sink state, driven by the control socket.
    private static long s_expected = long.MaxValue;
    private static long s_count;
    private static long s_bytes;
    private static readonly ManualResetEventSlim s_done = new(false);

    /// <summary>Serves on <paramref name="bindAddress"/> (127.0.0.1; 0.0.0.0 inside the WAN mode's network namespace).</summary>
    public static int Run(string bindAddress)
    {
        s_bind = "tcp://" + bindAddress;
        s_tcpBind = IPAddress.Parse(bindAddress);
        var rep = StartThread("rep", RepEcho);
        var router = StartThread("router", RouterEcho);
        var pull = StartThread("pull", PullSink);
        var control = StartThread("control", Control);
        var tcp = StartTcp();
        var ports = new ServerPorts(rep.Result, router.Result, pull.Result, control.Result, tcp);
        Console.Out.WriteLine("READY " + JsonSerializer.Serialize(ports));
        Console.Out.Flush();

        // The parent holds our standard input: end with it, so no server outlives a benchmark.
        Console.In.ReadToEnd();
        s_stop = true;
        Environment.Exit(0);
        return 0;
    }

    private static Task<int> StartThread(string name, Action<TaskCompletionSource<int>> body)
    {
        var bound = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                body(bound);
            }
            catch (Exception ex)
            {
                if (!bound.TrySetException(ex))
                {
                    Console.Error.WriteLine($"server {name}: {ex}");
                }
            }
        })
        { IsBackground = true, Name = "bench-server-" + name }.Start();
        return bound.Task;
    }

    private static void RepEcho(TaskCompletionSource<int> bound)
    {
        using var socket = new ResponseSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Options.MaxMsgSize = MaxMessageSize;
        bound.SetResult(socket.BindRandomPort(s_bind));
        var msg = default(Msg);
        msg.InitEmpty();
        while (!s_stop)
        {
            if (!socket.TryReceive(ref msg, Poll))
            {
                continue;
            }

            // Echo the very frame back (zero copy): the REP envelope is handled by the socket.
            socket.Send(ref msg, msg.HasMore);
            msg.InitEmpty();
        }
    }

    private static void RouterEcho(TaskCompletionSource<int> bound)
    {
        using var socket = new RouterSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Options.MaxMsgSize = MaxMessageSize;
        socket.Options.SendHighWatermark = 100_000;
        socket.Options.ReceiveHighWatermark = 100_000;
        bound.SetResult(socket.BindRandomPort(s_bind));
        var msg = default(Msg);
        msg.InitEmpty();
        while (!s_stop)
        {
            if (!socket.TryReceive(ref msg, Poll))
            {
                continue;
            }

            // Identity frame first, then the DEALER's (or REQ's) frames: echo each as it comes.
            var more = msg.HasMore;
            socket.Send(ref msg, more);
            msg.InitEmpty();
            while (more)
            {
                socket.Receive(ref msg);
                more = msg.HasMore;
                socket.Send(ref msg, more);
                msg.InitEmpty();
            }
        }
    }

    private static void PullSink(TaskCompletionSource<int> bound)
    {
        using var socket = new PullSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Options.MaxMsgSize = MaxMessageSize;
        bound.SetResult(socket.BindRandomPort(s_bind));
        var msg = default(Msg);
        msg.InitEmpty();
        while (!s_stop)
        {
            if (!socket.TryReceive(ref msg, Poll))
            {
                continue;
            }

            Interlocked.Add(ref s_bytes, msg.Size);
            msg.Close();
            msg.InitEmpty();
            if (Interlocked.Increment(ref s_count) == Volatile.Read(ref s_expected))
            {
                s_done.Set();
            }
        }
    }

    private static void Control(TaskCompletionSource<int> bound)
    {
        using var socket = new ResponseSocket();
        socket.Options.Linger = TimeSpan.Zero;
        bound.SetResult(socket.BindRandomPort(s_bind));
        while (!s_stop)
        {
            if (!socket.TryReceiveFrameString(Poll, out var command))
            {
                continue;
            }

            var parts = command.Split(' ');
            switch (parts[0])
            {
                case "expect":
                    s_done.Reset();
                    Interlocked.Exchange(ref s_count, 0);
                    Interlocked.Exchange(ref s_bytes, 0);
                    Volatile.Write(ref s_expected, long.Parse(parts[1], CultureInfo.InvariantCulture));
                    socket.SendFrame("ok");
                    break;
                case "wait":
                    var done = s_done.Wait(int.Parse(parts[1], CultureInfo.InvariantCulture));
                    socket.SendFrame(string.Create(CultureInfo.InvariantCulture,
                        $"{(done ? "done" : "timeout")} {Interlocked.Read(ref s_count)} {Interlocked.Read(ref s_bytes)}"));
                    break;
                default:
                    socket.SendFrame("unknown");
                    break;
            }
        }
    }

    private static int StartTcp()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        listener.Bind(new IPEndPoint(s_tcpBind, 0));
        listener.Listen(512);
        new Thread(() =>
        {
            while (!s_stop)
            {
                Socket client;
                try
                {
                    client = listener.Accept();
                }
                catch (SocketException)
                {
                    return;
                }

                client.NoDelay = true;
                new Thread(() => TcpConnection(client)) { IsBackground = true, Name = "bench-server-tcp-conn" }.Start();
            }
        })
        { IsBackground = true, Name = "bench-server-tcp-accept" }.Start();
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    /// <summary>
    /// Raw TCP protocol: a mode byte, then 'E' = echo length-prefixed frames until EOF;
    /// 'S' = sink: u64 count, u32 size, then count*size bytes, answered by one byte.
    /// </summary>
    private static void TcpConnection(Socket socket)
    {
        using var _ = socket;
        var header = new byte[12];
        var buffer = new byte[4 + 64 * 1024];
        try
        {
            while (true)
            {
                if (!RawTcp.ReadExactly(socket, header.AsSpan(0, 1)))
                {
                    return;
                }

                if (header[0] == (byte)'E')
                {
                    while (RawTcp.ReadExactly(socket, header.AsSpan(0, 4)))
                    {
                        var length = BinaryPrimitives.ReadInt32BigEndian(header);
                        if (buffer.Length < 4 + length)
                        {
                            buffer = new byte[4 + length];
                        }

                        header.AsSpan(0, 4).CopyTo(buffer);
                        if (!RawTcp.ReadExactly(socket, buffer.AsSpan(4, length)))
                        {
                            return;
                        }

                        RawTcp.SendAll(socket, buffer.AsSpan(0, 4 + length));
                    }

                    return;
                }

                if (header[0] == (byte)'S')
                {
                    if (!RawTcp.ReadExactly(socket, header.AsSpan(0, 12)))
                    {
                        return;
                    }

                    var total = BinaryPrimitives.ReadInt64BigEndian(header) * BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(8));
                    while (total > 0)
                    {
                        var n = socket.Receive(buffer, 0, (int)Math.Min(buffer.Length, total), SocketFlags.None);
                        if (n == 0)
                        {
                            return;
                        }

                        total -= n;
                    }

                    RawTcp.SendAll(socket, [1]);
                    continue;
                }

                return;
            }
        }
        catch (SocketException)
        {
        }
    }
}

/// <summary>Blocking helpers for the raw TCP mode.</summary>
internal static class RawTcp
{
    public static bool ReadExactly(Socket socket, Span<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            var n = socket.Receive(buffer);
            if (n == 0)
            {
                return false;
            }

            buffer = buffer[n..];
        }

        return true;
    }

    public static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            data = data[socket.Send(data)..];
        }
    }
}

/// <summary>Starts and owns a server process: the NetMQ one (this executable, <c>serve</c>) or the pyzmq one (pyzmq_server.py).</summary>
internal sealed class ServerProcess : IDisposable
{
    /// <summary>Debian's Python, with python3-zmq (pyzmq 24, libzmq 4.3) installed by eng/setup.sh.</summary>
    public const string PythonPath = "/usr/bin/python3";

    private readonly Process _process;

    private ServerProcess(Process process, ServerPorts ports)
    {
        _process = process;
        Ports = ports;
    }

    public ServerPorts Ports { get; }

    public int Pid => _process.Id;

    /// <summary>Starts the server of <paramref name="peer"/> (<c>netmq</c> or <c>pyzmq</c>), bound to <paramref name="bindAddress"/>, inside <paramref name="netns"/> when given.</summary>
    public static ServerProcess Start(string peer, string bindAddress = "127.0.0.1", string? netns = null)
    {
        var (file, arguments) = peer == "pyzmq" ? PyzmqCommand(bindAddress) : NetMQCommand(bindAddress);
        var info = new ProcessStartInfo(netns is null ? file : NetworkNamespace.IpPath)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (netns is not null)
        {
            foreach (var a in new[] { "netns", "exec", netns, file })
            {
                info.ArgumentList.Add(a);
            }
        }

        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        // The same runtime settings as this process (no concurrent GC), explicitly.
        info.Environment["DOTNET_gcConcurrent"] = "0";
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start the {peer} server process");
        ChildProcesses.Add(process);
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();
        var line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(30)) || line.Result is not { } ready || !ready.StartsWith("READY ", StringComparison.Ordinal))
        {
            Sshd.StopProcess(process);
            throw new InvalidOperationException($"the {peer} server process did not start: {stderr}");
        }

        var ports = JsonSerializer.Deserialize<ServerPorts>(ready["READY ".Length..])!;
        return new ServerProcess(process, ports);
    }

    private static (string File, List<string> Arguments) NetMQCommand(string bindAddress)
    {
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        List<string> arguments = Path.GetFileNameWithoutExtension(host) == "dotnet" ? [typeof(ServerProcess).Assembly.Location] : [];
        arguments.Add("serve");
        arguments.Add(bindAddress);
        return (host, arguments);
    }

    private static (string File, List<string> Arguments) PyzmqCommand(string bindAddress)
    {
        if (!File.Exists(PythonPath))
        {
            throw new InvalidOperationException($"{PythonPath} is missing: run eng/setup.sh (Debian packages python3, python3-zmq).");
        }

        return (PythonPath, [Path.Combine(AppContext.BaseDirectory, "pyzmq_server.py"), bindAddress]);
    }

    public void Dispose()
    {
        ChildProcesses.Remove(_process);
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5_000))
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
