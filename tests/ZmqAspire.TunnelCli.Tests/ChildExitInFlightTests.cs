using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NetMQ;
using NetMQ.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.TunnelCli.Tests;

/// <summary>
/// A child that writes and exits at once: what it wrote still reaches the target before
/// zmq-tunnel closes the tunnel. Replays zeromq/pyzmq#404 ("PyZMQ missing messages while exiting
/// instead of waiting": a PUSH that sends large messages, closes and terms its context, whose
/// PULL gets fewer) through zmq-tunnel's child mode, and docker/machine#2194 (OpenSSH's ssh does
/// not exit while forwarded connections still carry data: "Waiting for forwarded connections to
/// terminate"). libzmq's linger only waits until the kernel took the bytes, that is until they sit
/// in the forward's local socket: the tunnel must relay them after the child is gone.
/// </summary>
[Collection(CliSshdCollection.Name)]
public sealed class ChildExitInFlightTests(CliSshdFixture sshd, ITestOutputHelper output)
{
    private const int Messages = 64;
    private const int MessageSize = 128 * 1024;
    private const int RawSize = 8 * 1024 * 1024;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan SlowTargetDelay = TimeSpan.FromSeconds(2);

    /// <summary>pyzmq#404's sender: PUSH large messages, close with linger, term the context, exit 0.</summary>
    private const string PushScript = """
        import os, sys, zmq
        count, size = int(sys.argv[1]), int(sys.argv[2])
        context = zmq.Context()
        socket = context.socket(zmq.PUSH)
        socket.setsockopt(zmq.LINGER, 30000)
        socket.connect(os.environ["ZMQ_TUNNEL_ENDPOINT"])
        for i in range(count):
            socket.send(i.to_bytes(4, "big") * (size // 4))
        socket.close()
        context.term()
        print("sent", count, flush=True)
        """;

    /// <summary>A plain TCP writer: sendall, close, exit 0 (what `cat file | nc` does).</summary>
    private const string RawScript = """
        import os, socket, sys
        size = int(sys.argv[1])
        data = bytes(range(256)) * (size // 256)
        s = socket.create_connection(("127.0.0.1", int(os.environ["ZMQ_TUNNEL_PORT"])))
        s.sendall(data)
        s.close()
        print("sent", len(data), flush=True)
        """;

    [Fact]
    public async Task A_pyzmq_push_child_that_exits_right_after_sending_loses_no_message()
    {
        using var pull = new PullSocket();
        pull.Options.ReceiveHighWatermark = 0;
        var port = pull.BindRandomPort("tcp://127.0.0.1");
        var watch = Stopwatch.StartNew();
        var run = await TunnelProcess.RunAsync(
            [sshd.Server, $"tcp://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath,
             "--", "/usr/bin/python3", "-c", PushScript, Messages.ToString(CultureInfo.InvariantCulture), MessageSize.ToString(CultureInfo.InvariantCulture)],
            Generous);
        var exited = watch.Elapsed;
        Assert.True(run.Process.ExitCode == 0, run.Describe);
        Assert.Contains($"sent {Messages}", run.StandardOutput, StringComparison.Ordinal);

        // Whatever got through is here within a second of zmq-tunnel's exit.
        var received = 0;
        var intact = 0;
        while (pull.TryReceiveFrameBytes(TimeSpan.FromSeconds(1), out var frame))
        {
            received++;
            var expected = BitConverter.IsLittleEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(received - 1) : received - 1;
            if (frame.Length == MessageSize && BitConverter.ToInt32(frame, 0) == expected)
            {
                intact++;
            }
        }

        output.WriteLine($"pyzmq PUSH child sent {Messages} x {MessageSize} B and exited; zmq-tunnel exited after {exited.TotalSeconds:0.00} s; the PULL got {received} ({intact} intact, in order)");
        Assert.Equal(Messages, received);
        Assert.Equal(Messages, intact);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_raw_tcp_child_that_exits_right_after_writing_loses_no_byte(bool slowTarget)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var sink = SinkAsync(listener, slowTarget ? SlowTargetDelay : TimeSpan.Zero);
        var watch = Stopwatch.StartNew();
        var run = await TunnelProcess.RunAsync(
            [sshd.Server, $"tcp://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath,
             "--", "/usr/bin/python3", "-c", RawScript, RawSize.ToString(CultureInfo.InvariantCulture)],
            Generous);
        var exited = watch.Elapsed;
        Assert.True(run.Process.ExitCode == 0, run.Describe);
        Assert.Contains($"sent {RawSize}", run.StandardOutput, StringComparison.Ordinal);

        var (bytes, hash, ending) = await sink.WaitAsync(Generous);
        var expected = SHA256.HashData(Enumerable.Range(0, RawSize).Select(i => (byte)i).ToArray());
        output.WriteLine($"raw TCP child wrote {RawSize} B and exited (target reading {(slowTarget ? "only after " + SlowTargetDelay.TotalSeconds + " s" : "at once")}); zmq-tunnel exited after {exited.TotalSeconds:0.00} s; the target read {bytes} B, then {ending}\n{run.Describe}");
        Assert.Equal(RawSize, bytes);
        Assert.Equal(expected, hash);
        Assert.Equal("end of stream", ending);
    }

    [Fact]
    public async Task Waiting_for_a_connection_the_target_never_closes_ends_at_sigterm_with_the_childs_code()
    {
        // A target that reads and never closes: the relayed connection stays half-closed.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var held = HoldAsync(listener);
        using var tunnel = TunnelProcess.Start(
            [sshd.Server, $"tcp://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath,
             "--", "/usr/bin/python3", "-c", RawScript + "\nsys.exit(5)\n", "1024"]);
        Assert.True(await TunnelProcess.WaitForAsync(() => tunnel.StandardError.Contains("waiting for 1 relayed connection(s) to end", StringComparison.Ordinal), Generous), tunnel.Describe);
        Assert.Equal(1024, await held.WaitAsync(Generous));
        Assert.False(tunnel.Process.HasExited, tunnel.Describe);

        var watch = Stopwatch.StartNew();
        tunnel.Signal("TERM");
        await tunnel.WaitForExitAsync(TimeSpan.FromSeconds(10));
        output.WriteLine($"the child exited 5 with a connection its target never closes: zmq-tunnel waited, then exited {watch.Elapsed.TotalSeconds:0.000} s after SIGTERM with {tunnel.Process.ExitCode}");
        Assert.True(tunnel.Process.ExitCode == 5, tunnel.Describe);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"exited {watch.Elapsed.TotalSeconds:0.000} s after SIGTERM\n{tunnel.Describe}");
        Assert.Empty(TunnelProcess.ListeningSockets(int.Parse(tunnel.StandardError.Split("tcp://127.0.0.1:")[1].Split(' ')[0], CultureInfo.InvariantCulture)));
    }

    /// <summary>Accepts connections until one carries data, reads it to its end and returns the count, leaving the socket open.</summary>
    private static async Task<long> HoldAsync(TcpListener listener)
    {
        while (true)
        {
            var peer = await listener.AcceptSocketAsync();
            var buffer = new byte[64 * 1024];
            long bytes = 0;
            int n;
            while ((n = await peer.ReceiveAsync(buffer)) > 0)
            {
                bytes += n;
            }

            if (bytes > 0)
            {
                // Never closed: the test ends with the process.
                return bytes;
            }

            peer.Dispose();
        }
    }

    /// <summary>
    /// Accepts connections and reads each to its end, returning the first that carried data: the
    /// byte count, their hash, and how it ended. zmq-tunnel's start-up probe opens (and closes) an
    /// empty connection to the target first.
    /// </summary>
    private static async Task<(long Bytes, byte[] Hash, string Ending)> SinkAsync(TcpListener listener, TimeSpan delay)
    {
        while (true)
        {
            using var peer = await listener.AcceptSocketAsync();
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[256 * 1024];
            long bytes = 0;
            string ending;
            // A slow target (SSHD-85's tests sleep the same way): the bytes wait in sshd and in
            // the kernel's buffers, so the child's sendall returns and it exits before they are relayed.
            await Task.Delay(delay);
            try
            {
                int n;
                while ((n = await peer.ReceiveAsync(buffer)) > 0)
                {
                    bytes += n;
                    hash.AppendData(buffer, 0, n);
                }

                ending = "end of stream";
            }
            catch (SocketException ex)
            {
                ending = $"{ex.SocketErrorCode}";
            }

            if (bytes > 0)
            {
                return (bytes, hash.GetHashAndReset(), ending);
            }
        }
    }
}
