using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Closing forwards and sessions in the states that froze or threw in SSH.NET: a session whose
/// server vanished, and a relayed connection whose local reader stalled with data queued for it.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class DisposeUnderFaultTests(SshdFixture sshd, ITestOutputHelper output)
{
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Replays sshnet/SSH.NET#1096 ("attempting to dispose the forwarded port will throw
    /// exception because it believes the session is still connected", after the connection
    /// dropped) and sshnet/SSH.NET#879 (RemoveForwardedPort throws "Client not connected").
    /// </summary>
    [Fact]
    public async Task Forwards_of_a_session_whose_server_vanished_close_without_error()
    {
        using var echo = EchoServer.Start();
        var before = sshd.SessionProcesses();
        var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var remote = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), echo.Endpoint);
        var local = session.OpenLocalForward(echo.Endpoint);

        // Only this session's sshd processes (the monitor and its unprivileged child, which
        // holds the connection too) die, as when the bastion reboots.
        foreach (var pid in sshd.SessionProcesses().Except(before).SelectMany(ProcFs.Tree).ToList())
        {
            ClientProcess.Signal(pid, "KILL");
        }

        var watch = Stopwatch.StartNew();
        while (session.IsConnected && watch.Elapsed < Functional)
        {
            await Task.Delay(50);
        }

        Assert.False(session.IsConnected, "the session did not notice its server was killed");
        watch.Restart();
        remote.Dispose();
        local.Dispose();
        await session.DisposeAsync().AsTask().WaitAsync(Functional);
        output.WriteLine($"both forwards and the session closed {watch.Elapsed.TotalMilliseconds:0} ms after the session dropped");
        Assert.False(local.IsListening);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"closing took {watch.Elapsed.TotalSeconds:0.0} s with the server gone");
    }

    /// <summary>
    /// Replays sshnet/SSH.NET#741 ("Disconnect freeze ... Forward Port": disconnecting froze in
    /// the forwarded channel's socket close while data was flowing): the local reader has
    /// stopped, data waits in our queue for it, and the session is disposed.
    /// </summary>
    [Fact]
    public async Task Disposing_a_session_closes_a_relayed_connection_whose_reader_stalled()
    {
        using var flood = FloodServer.Start();
        var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var forward = session.OpenLocalForward(flood.Endpoint);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 64 * 1024 };
        await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort).WaitAsync(Functional);
        var buffer = new byte[64 * 1024];
        Assert.True(await client.ReceiveAsync(buffer).WaitAsync(Functional) > 0);

        // The client stops reading until the flood has filled its buffers, ours and the window.
        var written = flood.Written;
        do
        {
            written = flood.Written;
            await Task.Delay(500);
        }
        while (flood.Written != written);

        var watch = Stopwatch.StartNew();
        var pending = session.DisposeAsync();
        var returned = watch.Elapsed;
        await pending.AsTask().WaitAsync(Functional);
        var done = watch.Elapsed;

        // The client reads what was delivered, then the end of the connection.
        long drained = 0;
        try
        {
            int n;
            while ((n = await client.ReceiveAsync(buffer).WaitAsync(Functional)) > 0)
            {
                drained += n;
            }
        }
        catch (SocketException)
        {
            // A reset ends the connection as well.
        }

        output.WriteLine($"DisposeAsync returned after {returned.TotalMilliseconds:0} ms, done after {done.TotalMilliseconds:0} ms; the client then drained {drained} bytes and saw the end after {watch.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(returned < TimeSpan.FromSeconds(1), $"DisposeAsync blocked its caller {returned.TotalMilliseconds:0} ms");
        Assert.False(forward.IsListening);
    }
}
