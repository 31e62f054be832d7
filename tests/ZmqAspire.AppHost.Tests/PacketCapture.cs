using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace ZmqAspire.AppHost.Tests;

/// <summary>
/// Captures the TCP traffic between two of the project's containers with tshark (run as root)
/// on the bridge of the docker network they share, and nothing else: the capture filter names
/// both containers' addresses and the port. Segments arrive as tshark prints them.
/// </summary>
internal sealed class PacketCapture : IAsyncDisposable
{
    private readonly Process _tshark;
    private readonly List<Segment> _segments = [];
    private readonly Task _reader;

    private PacketCapture(Process tshark, string fromAddress, string toAddress)
    {
        _tshark = tshark;
        FromAddress = fromAddress;
        ToAddress = toAddress;
        _reader = ReadAsync();
    }

    /// <summary>Gets the address of the connecting side (the first container).</summary>
    public string FromAddress { get; }

    /// <summary>Gets the address of the listening side (the second container).</summary>
    public string ToAddress { get; }

    /// <summary>Starts capturing the traffic from <paramref name="from"/> to port <paramref name="port"/> of <paramref name="to"/>.</summary>
    /// <param name="from">The connecting container's id.</param>
    /// <param name="to">The listening container's id.</param>
    /// <param name="port">The listening port.</param>
    /// <returns>The running capture, once tshark says it is capturing.</returns>
    public static async Task<PacketCapture> StartAsync(string from, string to, int port)
    {
        var fromNetworks = await NetworksAsync(from);
        var toNetworks = await NetworksAsync(to);
        var (network, toAddress) = toNetworks.First(n => fromNetworks.ContainsKey(n.Key));
        var fromAddress = fromNetworks[network];
        var device = await BridgeAsync(network);

        var start = new ProcessStartInfo("tshark") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in new[]
        {
            "-i", device, "-n", "-l",
            "-f", $"tcp and host {fromAddress} and host {toAddress} and port {port}",
            "-T", "fields", "-e", "tcp.stream", "-e", "ip.src", "-e", "tcp.payload",
        })
        {
            start.ArgumentList.Add(arg);
        }

        Process tshark;
        try
        {
            tshark = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("tshark is needed for the capture tests (eng/setup.sh installs it).", ex);
        }

        tshark.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stderr = new StringBuilder();
        while (await tshark.StandardError.ReadLineAsync(cts.Token) is { } line)
        {
            stderr.AppendLine(line);
            if (line.StartsWith("Capturing on", StringComparison.Ordinal))
            {
                _ = tshark.StandardError.ReadToEndAsync(CancellationToken.None); // keep the pipe drained
                return new PacketCapture(tshark, fromAddress, toAddress);
            }
        }

        throw new InvalidOperationException($"tshark did not start capturing on {device}: {stderr}");
    }

    /// <summary>Gets the payload bytes of each TCP connection seen, per direction, in order.</summary>
    public IReadOnlyList<Connection> Connections()
    {
        lock (_segments)
        {
            return _segments
                .GroupBy(s => s.Stream)
                .Select(g => new Connection(
                    g.Where(s => s.Source == FromAddress).SelectMany(s => s.Payload).ToArray(),
                    g.Where(s => s.Source == ToAddress).SelectMany(s => s.Payload).ToArray()))
                .ToList();
        }
    }

    /// <summary>Waits until <paramref name="done"/> holds for the connections seen, or the timeout elapses.</summary>
    /// <returns>Whether it held.</returns>
    public async Task<bool> WaitForAsync(Func<IReadOnlyList<Connection>, bool> done, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (!done(Connections()))
        {
            if (waited.Elapsed > timeout || _reader.IsCompleted)
            {
                return done(Connections());
            }

            await Task.Delay(100);
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_tshark.HasExited)
        {
            _tshark.Kill(entireProcessTree: true); // tshark and the dumpcap it started
        }

        await _tshark.WaitForExitAsync();
        await _reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _tshark.Dispose();
    }

    // Docker names a user-defined bridge "br-" and the network id's first 12 characters, unless the
    // network sets its own name.
    private static async Task<string> BridgeAsync(string network)
    {
        using var doc = JsonDocument.Parse(await Docker.RunAsync("network", "inspect", network));
        var root = doc.RootElement[0];
        return root.TryGetProperty("Options", out var options)
            && options.ValueKind == JsonValueKind.Object
            && options.TryGetProperty("com.docker.network.bridge.name", out var name)
            && name.GetString() is { Length: > 0 } given
            ? given
            : "br-" + root.GetProperty("Id").GetString()![..12];
    }

    private static async Task<Dictionary<string, string>> NetworksAsync(string container)
    {
        var json = await Docker.RunAsync("inspect", "-f", "{{json .NetworkSettings.Networks}}", container);
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.EnumerateObject().ToDictionary(n => n.Name, n => n.Value.GetProperty("IPAddress").GetString()!);
    }

    private async Task ReadAsync()
    {
        while (await _tshark.StandardOutput.ReadLineAsync() is { } line)
        {
            // tcp.stream <TAB> ip.src <TAB> payload as hex (empty for bare ACKs; colons in older versions)
            var fields = line.Split('\t');
            if (fields.Length == 3 && fields[2].Length > 0)
            {
                var segment = new Segment(int.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture), fields[1], Convert.FromHexString(fields[2].Replace(":", string.Empty, StringComparison.Ordinal)));
                lock (_segments)
                {
                    _segments.Add(segment);
                }
            }
        }
    }

    private sealed record Segment(int Stream, string Source, byte[] Payload);

    /// <summary>One TCP connection's payload, per direction.</summary>
    /// <param name="Sent">From the connecting side (the client side of the ZMTP connection).</param>
    /// <param name="Received">From the listening side.</param>
    internal sealed record Connection(byte[] Sent, byte[] Received)
    {
        /// <summary>
        /// Gets the ZMTP 3 security mechanism the connecting side asked for (RFC 23: a 64-byte
        /// greeting, the mechanism name in bytes 12-31), or null if the capture missed the greeting.
        /// </summary>
        public string? Mechanism => Sent.Length >= 32 && Sent[0] == 0xFF && Sent[9] == 0x7F
            ? Encoding.ASCII.GetString(Sent, 12, 20).TrimEnd('\0')
            : null;

        /// <summary>Tells whether <paramref name="text"/> appears, UTF-8 encoded, in either direction.</summary>
        public bool Contains(string text) =>
            Sent.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0 || Received.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;
    }
}
