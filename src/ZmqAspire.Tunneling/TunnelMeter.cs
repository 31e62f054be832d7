using System.Diagnostics.Metrics;

namespace ZmqAspire.Tunneling;

/// <summary>
/// The tunnel library's own instruments, on the Meter <see cref="Name"/>: add it to a
/// MeterProvider (<c>AddMeter(TunnelMeter.Name)</c>) to export them; with no listener they cost a
/// flag check per relayed chunk.
/// </summary>
/// <remarks>
/// <c>zmqaspire.tunnel.io</c> (counter, unit <c>By</c>): payload bytes relayed through local
/// forwards, by <c>network.io.direction</c> as OpenTelemetry's semantic conventions name it
/// (<c>transmit</c>: from the local socket into the SSH channel, toward the target;
/// <c>receive</c>: from the channel, accepted by the local socket). It counts the channel's data
/// (RFC 4254 section 5.2), not SSH framing, padding or MACs, and only on the library's own channels
/// (the default; not with <c>ZMQASPIRE_TUNNEL_OWNCHANNELS=0</c>).
/// </remarks>
public static class TunnelMeter
{
    /// <summary>The Meter name: <c>ZmqAspire.Tunneling</c>.</summary>
    public const string Name = "ZmqAspire.Tunneling";

    private static readonly Meter Meter = new(Name);

    private static readonly Counter<long> Io = Meter.CreateCounter<long>(
        "zmqaspire.tunnel.io", "By", "Payload bytes relayed through local forwards, by direction.");

    private static readonly KeyValuePair<string, object?> Transmit = new("network.io.direction", "transmit");
    private static readonly KeyValuePair<string, object?> Receive = new("network.io.direction", "receive");

    /// <summary>Bytes read from a local socket and sent into its SSH channel.</summary>
    internal static void Transmitted(int bytes)
    {
        if (Io.Enabled)
        {
            Io.Add(bytes, Transmit);
        }
    }

    /// <summary>Bytes from an SSH channel that the local socket accepted.</summary>
    internal static void Received(uint bytes)
    {
        if (Io.Enabled && bytes > 0)
        {
            Io.Add(bytes, Receive);
        }
    }
}
