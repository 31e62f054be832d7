using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A loopback TCP echo server that closes each connection when its peer does (end of stream or
/// reset), as a well-behaved target of a forward: a relay that leaves a connection open here is
/// the relay's fault.
/// </summary>
internal sealed class EchoServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private int _accepted;

    private EchoServer()
    {
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public TcpEndpoint Endpoint => new("127.0.0.1", Port);

    /// <summary>Gets how many connections were accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    public static EchoServer Start() => new();

    public void Dispose() => _listener.Stop();

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            _ = EchoAsync(client);
        }
    }

    private static async Task EchoAsync(Socket client)
    {
        using var _ = client;
        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await client.ReceiveAsync(buffer)) > 0)
            {
                await client.SendAsync(buffer.AsMemory(0, n));
            }
        }
        catch (SocketException)
        {
            // Reset by the peer: closed below all the same.
        }
    }
}

/// <summary>A loopback TCP server that writes to each connection without pause, counting the bytes the kernel took.</summary>
internal sealed class FloodServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private long _written;

    private FloodServer()
    {
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public TcpEndpoint Endpoint => new("127.0.0.1", Port);

    /// <summary>Gets the bytes written so far, all connections together.</summary>
    public long Written => Interlocked.Read(ref _written);

    public static FloodServer Start() => new();

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = FloodAsync(client);
        }
    }

    private async Task FloodAsync(Socket client)
    {
        using var _ = client;
        var chunk = new byte[64 * 1024];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var n = await client.SendAsync(chunk, SocketFlags.None, _stop.Token);
                Interlocked.Add(ref _written, n);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            // The peer went away, or the test ended.
        }
    }
}

/// <summary>The kernel's IPv4 TCP sockets (/proc/net/tcp, every process), for leftover-connection checks.</summary>
internal static class TcpTable
{
    public const string Established = "01";
    public const string CloseWait = "08";

    /// <summary>Gets every IPv4 TCP socket as (local port, remote port, state in hex as /proc shows it).</summary>
    public static List<(int LocalPort, int RemotePort, string State)> Read()
    {
        var sockets = new List<(int, int, string)>();
        foreach (var line in File.ReadAllLines("/proc/net/tcp").Skip(1))
        {
            // "  sl  local_address rem_address   st ...": addresses are HEXIP:HEXPORT.
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 4)
            {
                continue;
            }

            sockets.Add((Port(fields[1]), Port(fields[2]), fields[3]));
        }

        return sockets;
    }

    /// <summary>Counts sockets connected TO <paramref name="remotePort"/> in <paramref name="state"/> (the connecting side).</summary>
    public static int CountTo(int remotePort, string state) => Read().Count(s => s.RemotePort == remotePort && s.State == state);

    /// <summary>Counts sockets whose local port is <paramref name="localPort"/> in <paramref name="state"/> (accepted ones, for a listening port).</summary>
    public static int CountAt(int localPort, string state) => Read().Count(s => s.LocalPort == localPort && s.State == state);

    private static int Port(string address) =>
        int.Parse(address[(address.IndexOf(':', StringComparison.Ordinal) + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
