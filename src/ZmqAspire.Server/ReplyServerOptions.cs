namespace ZmqAspire.Server;

/// <summary>Settings of the REP server, bound from the <c>Server</c> configuration section
/// (environment: <c>Server__Port</c>, <c>Server__WorkTime</c>, ...).</summary>
public sealed class ReplyServerOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "Server";

    /// <summary>Gets or sets the TCP port the REP socket binds on all interfaces. Default: 5556, as the seed.</summary>
    public int Port { get; set; } = 5556;

    /// <summary>
    /// Gets or sets the name clients reach the server by, recorded as <c>server.address</c> on
    /// its spans and metrics. Default: the host name (a container's id); the AppHost sets the
    /// resource name.
    /// </summary>
    public string? Address { get; set; }

    /// <summary>Gets or sets the simulated work per request before the reply is sent. Default: 1 second, as the seed.</summary>
    public TimeSpan WorkTime { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets the largest message accepted, in bytes (ZMQ_MAXMSGSIZE); a peer that sends
    /// more is disconnected and the server goes on serving others. Default: 16 MiB.
    /// </summary>
    public long MaxMessageSize { get; set; } = 16L * 1024 * 1024;

    /// <summary>
    /// Gets or sets the high-water mark, in messages, of each peer's queue in either direction
    /// (ZMQ_SNDHWM and ZMQ_RCVHWM): a REP socket reads one request at a time, so a peer that
    /// pipelines more is held back by TCP rather than buffered here. Queued memory is at most
    /// about peers × this × <see cref="MaxMessageSize"/>. Default: 1000, libzmq's default, set
    /// explicitly so that a NetMQ upgrade cannot change it.
    /// </summary>
    public int HighWatermark { get; set; } = 1000;

    /// <summary>
    /// Gets or sets the server's CurveZMQ secret certificate (ZeroMQ RFC 26): a zcert file with
    /// its <c>secret-key</c> (as <c>zmq.auth.create_certificates</c> or the AppHost writes it),
    /// mounted as a secret, never passed as a value. When set, the REP socket is a CURVE server:
    /// clients need its public key, and plaintext clients are not answered. Default: none
    /// (plaintext, ZMTP's NULL mechanism).
    /// </summary>
    public string? CurveSecretKeyFile { get; set; }

    /// <summary>
    /// Gets or sets how many replies the server keeps for repeated requests (idempotency by
    /// <c>client-id</c> and <c>seq</c>, docs/reliability.md); 0 turns the reply cache off.
    /// Default: 10,000.
    /// </summary>
    public int ReplyCacheSize { get; set; } = 10_000;

    /// <summary>
    /// Gets or sets how long a reply is kept for a repeat; it must outlast a client's retry budget
    /// (request timeout × (retries + 1)). Default: 5 minutes.
    /// </summary>
    public TimeSpan ReplyCacheAge { get; set; } = TimeSpan.FromMinutes(5);
}
