namespace ZmqAspire.Client;

/// <summary>What the REQ client sends, bound from the <c>Client</c> configuration section.</summary>
public sealed class RequestClientOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "Client";

    /// <summary>
    /// Gets or sets how many requests to send on its own; 0 sends until stopped. Default: 9, as
    /// the seed. After that the client keeps its tunnel and sends only when asked (the
    /// dashboard's "Send one request" command).
    /// </summary>
    public int RequestCount { get; set; } = 9;

    /// <summary>Gets or sets the pause between a reply and the next request. Default: none.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.Zero;

    /// <summary>Gets or sets how long to wait for a reply before the request is sent again on a new socket. Default: 10 seconds.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how many times a request is sent again after a timeout before it counts as failed. Default: 2.</summary>
    public int MaxRetries { get; set; } = 2;

    /// <summary>
    /// Gets or sets the longest wait between NetMQ's attempts to reconnect the REQ socket
    /// (ZMQ_RECONNECT_IVL_MAX; the first wait is 100 ms and doubles): a target that stays down is
    /// not retried in a 100 ms loop. Default: 5 seconds.
    /// </summary>
    public TimeSpan ReconnectIntervalMax { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the request body. Default: <c>Hello</c>, as the seed.</summary>
    public string Message { get; set; } = "Hello";

    /// <summary>
    /// Gets or sets a value indicating whether requests go in the ZQA1 envelope that carries
    /// trace context to the server (docs/wire-format.md). Default: <see langword="false"/>, for
    /// unknown peers: a libzmq REP server that reads one frame per request cannot take a
    /// two-frame request. The AppHost turns it on for the ZmqAspire server.
    /// </summary>
    public bool Envelope { get; set; }

    /// <summary>
    /// Gets or sets the id sent in the envelope. Default: host name, process id and a random
    /// suffix per start (<c>host/pid/1a2b3c4d</c>): a restarted container keeps its host name and
    /// pid 1 but numbers its requests from 0 again, and the server's reply cache must not take its
    /// new requests for repeats of the old ones.
    /// </summary>
    public string ClientId { get; set; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}";

    /// <summary>
    /// Gets or sets the server's CurveZMQ public key (ZeroMQ RFC 26), Z85-encoded (40
    /// characters); the AppHost sets it when CURVE is on. Requests and replies are then encrypted
    /// between this process and the server, so the bastion relays only ciphertext. Default: none
    /// (plaintext inside the SSH tunnel, and from the bastion to the server).
    /// </summary>
    public string? CurveServerKey { get; set; }

    /// <summary>
    /// Gets or sets the secret the command endpoints (<c>POST /commands/...</c>) require in the
    /// <c>X-ZmqAspire-Command-Token</c> header. Default: none, and the endpoints are off.
    /// </summary>
    public string? CommandToken { get; set; }
}
