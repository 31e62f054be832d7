using System.Diagnostics;

namespace ZmqAspire.Messaging.Tests;

/// <summary>
/// Interoperability with libzmq through pyzmq (the seed's language): a pyzmq REQ peer that
/// knows nothing of the envelope is served, and a plain requester works against a pyzmq REP.
/// </summary>
public sealed class PyzmqPeerTests
{
    [Fact]
    public async Task A_pyzmq_client_gets_a_plain_reply()
    {
        using var server = new ResponderHost(reply: "World from 5556");
        var output = await RunPythonAsync($"""
            import zmq
            s = zmq.Context().socket(zmq.REQ)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.RCVTIMEO, 10000)
            s.connect("{server.Endpoint}")
            s.send(b"Hello")
            print(repr(s.recv_multipart()))
            """);
        Assert.Equal("[b'World from 5556']", output.Trim());
    }

    [Fact]
    public async Task A_plain_requester_talks_to_a_pyzmq_server()
    {
        var python = Start($"""
            import sys, zmq
            s = zmq.Context().socket(zmq.REP)
            s.setsockopt(zmq.LINGER, 0)
            port = s.bind_to_random_port("tcp://127.0.0.1")
            print(port, flush=True)
            frames = s.recv_multipart()
            s.send(b"frames=%d last=%s" % (len(frames), frames[-1]))
            """);
        try
        {
            var port = int.Parse((await python.StandardOutput.ReadLineAsync())!, System.Globalization.CultureInfo.InvariantCulture);
            using var requester = new ZmqRequester(new ZmqRequesterOptions { Endpoint = $"tcp://127.0.0.1:{port}", UseEnvelope = false });
            Assert.Equal("frames=1 last=Hello", requester.Send("Hello", 0).BodyText);
        }
        finally
        {
            python.Kill(entireProcessTree: true);
            await python.WaitForExitAsync();
            python.Dispose();
        }
    }

    internal static async Task<string> RunPythonAsync(string script)
    {
        using var process = Start(script);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, await stderr);
        return await stdout;
    }

    internal static Process Start(string script)
    {
        // Debian's python3, where eng/setup.sh installs python3-zmq (a pyenv python on PATH may lack it).
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        var process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        process.StandardInput.Close();
        return process;
    }
}
