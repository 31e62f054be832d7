namespace ZmqAspire.Messaging;

/// <summary>How a <see cref="ZmqResponder"/> describes the requests its REP socket serves.</summary>
public sealed class ZmqResponderOptions
{
    /// <summary>Gets or sets the server's name as clients address it (<c>server.address</c>), for example its DNS name.</summary>
    public required string ServerAddress { get; set; }

    /// <summary>Gets or sets the port the REP socket binds (<c>server.port</c>).</summary>
    public required int ServerPort { get; set; }

    /// <summary>Gets or sets the logical method (<c>rpc.method</c> and span name). Default: <see cref="MessagingTelemetry.DefaultMethod"/>.</summary>
    public string Method { get; set; } = MessagingTelemetry.DefaultMethod;

    /// <summary>
    /// Gets or sets the cache of replies already sent, by <c>client-id</c> and <c>seq</c>: a
    /// request sent again after a lost reply is answered from it without the work being done
    /// twice (<see cref="IncomingRequest.TryCreateCachedReply"/>). Default: none. Only enveloped
    /// requests that carry both fields are cached.
    /// </summary>
    public ReplyCache? ReplyCache { get; set; }
}
