using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Benchmarks;

/// <summary>
/// A user-space delay line (this kernel has no netem): listens on 127.0.0.1 and relays every
/// connection to a target, delivering each chunk it reads <see cref="OneWay"/> late, in each
/// direction, so a round trip through it costs twice that. It limits nothing else: a reader per
/// direction takes what arrives at once (an unbounded queue; what is in flight is bounded by the
/// SSH channel window or the ZeroMQ high-water marks), and a writer sends each chunk when it is due.
/// </summary>
internal sealed class DelayLine : IDisposable
{
    private readonly Socket _listener;
    private readonly IPEndPoint _target;
    private readonly ConcurrentBag<Socket> _sockets = [];
    private volatile bool _stopped;

    private DelayLine(Socket listener, IPEndPoint target, TimeSpan oneWay)
    {
        _listener = listener;
        _target = target;
        OneWay = oneWay;
    }

    /// <summary>Gets the delay added to each direction.</summary>
    public TimeSpan OneWay { get; }

    /// <summary>Gets the port it listens on, on 127.0.0.1.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>Starts a delay line to <paramref name="host"/>:<paramref name="port"/>.</summary>
    public static DelayLine Start(string host, int port, TimeSpan oneWay)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(128);
        var line = new DelayLine(listener, new IPEndPoint(IPAddress.Parse(host), port), oneWay);
        new Thread(line.AcceptLoop) { IsBackground = true, Name = "bench-delay-accept" }.Start();
        return line;
    }

    public void Dispose()
    {
        _stopped = true;
        _listener.Dispose();
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }
    }

    private void AcceptLoop()
    {
        while (!_stopped)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }

            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                server.Connect(_target);
            }
            catch (SocketException)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }

            client.NoDelay = true;
            server.NoDelay = true;
            _sockets.Add(client);
            _sockets.Add(server);
            Pump(client, server, "up");
            Pump(server, client, "down");
        }
    }

    /// <summary>Relays <paramref name="from"/> to <paramref name="to"/>, each chunk <see cref="OneWay"/> late.</summary>
    private void Pump(Socket from, Socket to, string direction)
    {
        var queue = new BlockingCollection<(long Due, byte[]? Data, int Count)>();
        var delay = (long)(OneWay.TotalSeconds * Stopwatch.Frequency);
        new Thread(() =>
        {
            var buffer = new byte[256 * 1024];
            try
            {
                while (true)
                {
                    var n = from.Receive(buffer);
                    if (n == 0)
                    {
                        break;
                    }

                    queue.Add((Stopwatch.GetTimestamp() + delay, buffer.AsSpan(0, n).ToArray(), n));
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }

            queue.Add((Stopwatch.GetTimestamp() + delay, null, 0)); // end of stream, delayed as data is
        })
        { IsBackground = true, Name = "bench-delay-read-" + direction }.Start();
        new Thread(() =>
        {
            try
            {
                foreach (var (due, data, count) in queue.GetConsumingEnumerable())
                {
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                    if (wait > TimeSpan.Zero)
                    {
                        Thread.Sleep(wait);
                    }

                    if (data is null)
                    {
                        to.Shutdown(SocketShutdown.Send);
                        return;
                    }

                    RawTcp.SendAll(to, data.AsSpan(0, count));
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                from.Dispose();
                to.Dispose();
            }
        })
        { IsBackground = true, Name = "bench-delay-write-" + direction }.Start();
    }
}
