using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A loopback target whose connects hang (a listener with backlog 0 and one filler connection:
/// later SYNs are dropped, so sshd's connect retransmits and the channel open stays unanswered),
/// until <see cref="ComeBack"/> starts accepting and echoing, as a replica that returns.
/// </summary>
internal sealed class HangingTarget : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly Socket _filler = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private int _accepted;
    private int _open;

    private HangingTarget()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(0);
        _filler.Connect(_listener.LocalEndPoint!);
    }

    public TcpEndpoint Endpoint => new("127.0.0.1", ((IPEndPoint)_listener.LocalEndPoint!).Port);

    /// <summary>Connections accepted since <see cref="ComeBack"/> (the filler's included).</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Accepted connections the peer has not closed yet.</summary>
    public int Open => Volatile.Read(ref _open);

    public static HangingTarget Start() => new();

    /// <summary>The target answers again: accepts every queued and later connection and echoes it.</summary>
    public void ComeBack()
    {
        // Back when this returns, not when the accept loop below gets a thread: a backlog with
        // room takes every SYN at once (listen(2) again on a listening socket sets its backlog). A
        // SYN dropped for the full backlog is sent again only after 1 s, longer than a 1 s channel
        // open timeout: the relay then closed before the echo (seen in a full run under load).
        _listener.Listen(128);
        // Our filler leaves: its accepted end closes, so Open counts only the forward's connections.
        _filler.Dispose();
        _ = Task.Run(AcceptAndEchoAsync);
    }

    private async Task AcceptAndEchoAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket peer;
            try
            {
                peer = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            Interlocked.Increment(ref _open);
            _ = Task.Run(() => EchoAsync(peer));
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _filler.Dispose();
        _listener.Dispose();
    }

    private async Task EchoAsync(Socket peer)
    {
        using (peer)
        {
            var buffer = new byte[4096];
            try
            {
                int n;
                while ((n = await peer.ReceiveAsync(buffer.AsMemory(), _stop.Token)) > 0)
                {
                    await peer.SendAsync(buffer.AsMemory(0, n), _stop.Token);
                }
            }
            catch (Exception)
            {
                // Reset or stopped: closed all the same.
            }
        }

        Interlocked.Decrement(ref _open);
    }
}
