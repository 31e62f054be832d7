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
}
