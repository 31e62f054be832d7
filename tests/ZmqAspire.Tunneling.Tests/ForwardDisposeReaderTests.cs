using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Disposing a local forward on a live session ends the reader thread of each connection it
/// relayed, also of one waiting for the server's window (RFC 4254 section 5.2: the target stopped
/// reading, so sshd stopped adjusting it): no thread is left blocked on a channel that is gone.
/// It counts the process's relay reader threads, so it runs alone (another test's forwards
/// would be counted).
/// </summary>
[Collection(MeterCollection.Name)]
public sealed class ForwardDisposeReaderTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Clients = 20;

    /// <summary>The relay reader's thread name as Linux keeps it (15 characters of "ZmqAspire.Tunneling relay reader").</summary>
    private const string ReaderComm = "ZmqAspire.Tunne";

    [Fact]
    public async Task Disposing_a_forward_ends_the_readers_that_wait_for_the_servers_window()
    {
        // A target that accepts and never reads: the clients' uploads fill it, then sshd's
        // window for each channel, and each relay reader waits for a window adjust.
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        var accepted = new List<Socket>();
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var socket = await target.AcceptSocketAsync();
                    lock (accepted)
                    {
                        accepted.Add(socket);
                    }
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // The test ended.
            }
        });
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var readersBefore = Readers();
        var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", ((IPEndPoint)target.LocalEndpoint).Port));
        var clients = new List<Socket>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort);
                _ = UploadUntilClosedAsync(client);
            }

            await Task.Delay(TimeSpan.FromSeconds(3)); // every window fills
            var readersStalled = Readers();
            forward.Dispose();
            var watch = Stopwatch.StartNew();
            int readersAfter;
            while ((readersAfter = Readers()) > readersBefore && watch.Elapsed < TimeSpan.FromSeconds(5))
            {
                await Task.Delay(100);
            }

            output.WriteLine($"relay reader threads: {readersBefore} before, {readersStalled} with {Clients} uploads stalled, {readersAfter} {watch.Elapsed.TotalSeconds:0.0} s after the forward was disposed");
            Assert.True(readersStalled >= readersBefore + Clients, $"only {readersStalled - readersBefore} reader threads for {Clients} connections");
            Assert.True(readersAfter <= readersBefore, $"{readersAfter - readersBefore} relay reader thread(s) still running 5 s after the forward was disposed");
            Assert.True(session.IsConnected);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
            lock (accepted)
            {
                accepted.ForEach(s => s.Dispose());
            }
        }
    }

    /// <summary>Counts this process's threads that Linux names after the relay reader.</summary>
    private static int Readers() => Directory.GetDirectories("/proc/self/task").Count(task =>
    {
        try
        {
            return File.ReadAllText(Path.Combine(task, "comm")).Trim() == ReaderComm;
        }
        catch (IOException)
        {
            return false; // the thread ended while we looked
        }
    });

    private static async Task UploadUntilClosedAsync(Socket client)
    {
        var chunk = new byte[64 * 1024];
        try
        {
            while (true)
            {
                await client.SendAsync(chunk);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The forward closed the connection, or the test ended.
        }
    }
}
