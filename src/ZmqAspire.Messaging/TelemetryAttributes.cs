namespace ZmqAspire.Messaging;

/// <summary>
/// Attribute (tag) names on the spans and measurements. The first group comes from the
/// OpenTelemetry semantic conventions (RPC, server, network, error); names under
/// <c>zmqaspire.</c> are this project's own, for what the conventions do not cover.
/// </summary>
public static class TelemetryAttributes
{
    /// <summary><c>rpc.system.name</c>: always <see cref="MessagingTelemetry.RpcSystemName"/>.</summary>
    public const string RpcSystemName = "rpc.system.name";

    /// <summary><c>rpc.method</c>: the fully-qualified logical method, also the span name.</summary>
    public const string RpcMethod = "rpc.method";

    /// <summary><c>server.address</c>: the server's name behind any intermediary (here: past the SSH tunnel).</summary>
    public const string ServerAddress = "server.address";

    /// <summary><c>server.port</c>: the server's port behind any intermediary.</summary>
    public const string ServerPort = "server.port";

    /// <summary><c>network.peer.address</c>: the address the socket is connected to (the local end of a tunnel).</summary>
    public const string NetworkPeerAddress = "network.peer.address";

    /// <summary><c>network.peer.port</c>: the port the socket is connected to.</summary>
    public const string NetworkPeerPort = "network.peer.port";

    /// <summary><c>network.transport</c>: <c>tcp</c>.</summary>
    public const string NetworkTransport = "network.transport";

    /// <summary><c>network.protocol.name</c>: <c>zmtp</c>, ZeroMQ's message transport protocol.</summary>
    public const string NetworkProtocolName = "network.protocol.name";

    /// <summary><c>network.io.direction</c>: <c>transmit</c> or <c>receive</c>, on the byte counters.</summary>
    public const string NetworkIoDirection = "network.io.direction";

    /// <summary><c>error.type</c>: the exception's full type name, or <c>invalid_envelope</c>; set only on failure.</summary>
    public const string ErrorType = "error.type";

    /// <summary>The request's sequence number, as the client numbers them (envelope field <c>seq</c>).</summary>
    public const string RequestSequence = "zmqaspire.request.sequence";

    /// <summary>How many times the request was sent again after a timeout (0: answered at the first try).</summary>
    public const string RequestRetryCount = "zmqaspire.request.retry_count";

    /// <summary>The request's size on the wire in bytes: all frames, header included (ZMTP framing excluded).</summary>
    public const string RequestSize = "zmqaspire.request.size";

    /// <summary>The reply's size on the wire in bytes: all frames, header included (ZMTP framing excluded).</summary>
    public const string ResponseSize = "zmqaspire.response.size";

    /// <summary><c>envelope</c> (ZQA1 header frame + body) or <c>plain</c> (one frame, no trace context).</summary>
    public const string MessageFormat = "zmqaspire.message.format";

    /// <summary>The client's self-chosen id (envelope field <c>client-id</c>).</summary>
    public const string ClientId = "zmqaspire.client.id";

    /// <summary>The SSH bastion a tunnelled request went through, <c>host:port</c>.</summary>
    public const string TunnelBastion = "zmqaspire.tunnel.bastion";

    /// <summary>The target the bastion forwards to, as it resolves it, <c>host:port</c>.</summary>
    public const string TunnelTarget = "zmqaspire.tunnel.target";

    /// <summary>The local port of the SSH forward the socket connects to.</summary>
    public const string TunnelLocalPort = "zmqaspire.tunnel.local_port";

    /// <summary>On a server span: <see langword="true"/> when the reply came from the reply cache (a repeated request, no work done).</summary>
    public const string ReplyCacheHit = "zmqaspire.reply_cache.hit";
}
