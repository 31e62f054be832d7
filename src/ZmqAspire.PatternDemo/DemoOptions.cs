namespace ZmqAspire.PatternDemo;

/// <summary>Which side of which pattern this process plays.</summary>
public enum DemoMode
{
    /// <summary>A PUB socket that binds and publishes numbered ticks on <see cref="DemoOptions.Topic"/>.</summary>
    Publisher,

    /// <summary>A SUB socket that connects (through the tunnel) and subscribes to <see cref="DemoOptions.Topic"/>.</summary>
    Subscriber,

    /// <summary>A PUSH socket that connects (through the tunnel) and sends numbered jobs.</summary>
    Pusher,

    /// <summary>A PULL socket that binds and takes the jobs.</summary>
    Puller,
}

/// <summary>
/// Settings of a demo peer, bound from the <c>Demo</c> section (environment <c>Demo__Mode</c>, ...).
/// A connecting peer reaches its target through the SSH tunnel <c>AddSshTunnel("server")</c> keeps
/// up when <c>ConnectionStrings__server</c> is set (the AppHost's WithZmqServerTunnel sets it),
/// else it connects to <see cref="Connect"/> directly.
/// </summary>
public sealed class DemoOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "Demo";

    /// <summary>The connection name of the tunnel (<c>ConnectionStrings:server</c>).</summary>
    public const string TunnelName = "server";

    /// <summary>Gets or sets the mode. Default: <see cref="DemoMode.Publisher"/>.</summary>
    public DemoMode Mode { get; set; }

    /// <summary>Gets or sets the TCP port a binding peer (publisher, puller) binds on all interfaces. Default: 5557.</summary>
    public int Port { get; set; } = 5557;

    /// <summary>Gets or sets the endpoint a connecting peer connects to when there is no tunnel, <c>tcp://host:port</c>.</summary>
    public string? Connect { get; set; }

    /// <summary>Gets or sets the PUB/SUB topic, also <c>messaging.destination.name</c>. Default: <c>demo.ticks</c>.</summary>
    public string Topic { get; set; } = "demo.ticks";

    /// <summary>Gets or sets the PUSH/PULL destination name on spans and metrics (PUSH/PULL has no topic). Default: <c>demo.jobs</c>.</summary>
    public string Queue { get; set; } = "demo.jobs";

    /// <summary>Gets or sets the pause between two messages a producer sends. Default: 1 second.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets how many messages a producer sends before it stops the process; 0 sends until stopped. Default: 0.</summary>
    public int Count { get; set; }
}
