namespace ZmqAspire.Messaging;

/// <summary>How a <see cref="ZmqRequester"/> reaches its server and describes the calls it makes.</summary>
public sealed class ZmqRequesterOptions
{
    /// <summary>Gets or sets the endpoint the REQ socket connects to, <c>tcp://host:port</c> (for a tunnel: its local end).</summary>
    public required string Endpoint { get; set; }

    /// <summary>Gets or sets the server's name behind any intermediary (<c>server.address</c>). Default: the endpoint's host.</summary>
    public string? ServerAddress { get; set; }

    /// <summary>Gets or sets the server's port behind any intermediary (<c>server.port</c>). Default: the endpoint's port.</summary>
    public int? ServerPort { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether requests are sent as a ZQA1 envelope
    /// (<c>[header, body]</c>, carrying trace context and the sequence number). Default:
    /// <see langword="false"/>: a plain one-frame request, which any REP peer understands. Turn it on
    /// only for servers that read the envelope (a ZmqAspire server): a libzmq REP peer that reads
    /// one frame per request would take the header for the body and leave the body unread.
    /// </summary>
    public bool UseEnvelope { get; set; }

    /// <summary>Gets or sets the client id sent in the envelope (<c>client-id</c>). Default: none.</summary>
    public string? ClientId { get; set; }

    /// <summary>Gets or sets how long to wait for each reply before resending. Default: 10 seconds.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how many times a request is sent again, on a new socket, after a timeout. Default: 2.</summary>
    public int MaxRetries { get; set; } = 2;

    /// <summary>
    /// Gets or sets the server's CurveZMQ public key (ZeroMQ RFC 26), Z85-encoded (40
    /// characters). When set, every socket is a CURVE client of that key: requests and replies
    /// are encrypted end to end, and a server with another key (or without CURVE) is never
    /// answered, so requests time out. Default: none (ZMTP's NULL mechanism, plaintext).
    /// </summary>
    public string? CurveServerKey { get; set; }

    /// <summary>
    /// Gets or sets the longest wait between NetMQ's reconnect attempts (ZMQ_RECONNECT_IVL_MAX):
    /// the wait starts at 100 ms and doubles up to this, so a peer (or tunnel) that stays down is
    /// not retried every 100 ms. Default: 5 seconds.
    /// </summary>
    public TimeSpan ReconnectIntervalMax { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the logical method (<c>rpc.method</c> and span name). Default: <see cref="MessagingTelemetry.DefaultMethod"/>.</summary>
    public string Method { get; set; } = MessagingTelemetry.DefaultMethod;

    /// <summary>
    /// Gets extra attributes for every client span, for example the tunnel hop
    /// (<see cref="TelemetryAttributes.TunnelBastion"/>, <see cref="TelemetryAttributes.TunnelTarget"/>,
    /// <see cref="TelemetryAttributes.TunnelLocalPort"/>). Not added to metrics (cardinality).
    /// </summary>
    public IList<KeyValuePair<string, object?>> SpanAttributes { get; } = [];
}
