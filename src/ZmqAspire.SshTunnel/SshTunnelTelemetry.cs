using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ZmqAspire.Tunneling;

/// <summary>
/// The names under which <c>AddSshTunnel</c> reports: one ActivitySource and one Meter, both
/// <see cref="Name"/>, which <c>AddSshTunnel</c> adds to OpenTelemetry itself (unless
/// <see cref="SshTunnelSettings.DisableTracing"/> / <see cref="SshTunnelSettings.DisableMetrics"/>).
/// Attribute names follow the OpenTelemetry semantic conventions (<c>server.address</c>,
/// <c>server.port</c>, <c>error.type</c>); what they do not cover is <c>zmqaspire.ssh.*</c>, the
/// same names the ZmqAspire client and <c>zmq-tunnel</c> use (docs/telemetry.md).
/// </summary>
public static class SshTunnelTelemetry
{
    /// <summary>The name of the ActivitySource and of the Meter.</summary>
    public const string Name = "ZmqAspire.SshTunnel";

    /// <summary>The span made for each login attempt to the bastion (kind Client).</summary>
    public const string ConnectSpanName = "ssh connect";

    /// <summary>Counter, <c>{connect}</c>: SSH sessions to the bastion established.</summary>
    public const string SessionConnects = "zmqaspire.ssh.session.connects";

    /// <summary>Counter, <c>{attempt}</c>: connect or login attempts that failed, with <c>error.type</c>.</summary>
    public const string SessionConnectFailures = "zmqaspire.ssh.session.connect_failures";

    /// <summary>Counter, <c>{disconnect}</c>: sessions that ended, with <see cref="DisconnectReason"/>.</summary>
    public const string SessionDisconnects = "zmqaspire.ssh.session.disconnects";

    /// <summary>Counter, <c>{failure}</c>: forward failures (a target the bastion starts refusing, once per outage; a relay error), with <c>error.type</c>.</summary>
    public const string ForwardFailures = "zmqaspire.ssh.forward.failures";

    /// <summary>The attribute saying why a session ended: <c>error</c> or <c>reconnect</c> (asked for); a session closed by the host's stop is not counted.</summary>
    public const string DisconnectReason = "zmqaspire.ssh.disconnect.reason";

    /// <summary>The attribute naming the tunnel: the connection name given to <c>AddSshTunnel</c>.</summary>
    public const string TunnelName = "zmqaspire.ssh.tunnel.name";

    /// <summary>The attribute with the host key fingerprint accepted, <c>SHA256:...</c> (on the connect span).</summary>
    public const string HostKey = "zmqaspire.ssh.host_key";

    /// <summary>The ActivitySource; spans are made only while someone listens (OpenTelemetry's AddSource).</summary>
    internal static readonly ActivitySource Source = new(Name, typeof(SshTunnelTelemetry).Assembly.GetName().Version?.ToString());
}

/// <summary>
/// One tunnel's instruments (none when metrics are off) and spans (only when tracing is on).
/// </summary>
internal sealed class SshTunnelInstruments
{
    private readonly Counter<long>? _connects;
    private readonly Counter<long>? _connectFailures;
    private readonly Counter<long>? _disconnects;
    private readonly Counter<long>? _forwardFailures;
    private readonly KeyValuePair<string, object?>[] _tunnel;
    private readonly bool _tracing;

    /// <param name="meter">The Meter to record on, or null when metrics are off.</param>
    /// <param name="plan">The tunnel, for the attributes every measurement carries.</param>
    /// <param name="tracing">Whether to make spans.</param>
    public SshTunnelInstruments(Meter? meter, SshTunnelPlan plan, bool tracing)
    {
        _tracing = tracing;
        _tunnel =
        [
            new(SshTunnelTelemetry.TunnelName, plan.Name),
            new("server.address", plan.Options.Server.Host),
            new("server.port", plan.Options.Server.Port),
        ];
        if (meter is null)
        {
            return;
        }

        _connects = meter.CreateCounter<long>(SshTunnelTelemetry.SessionConnects, "{connect}", "SSH sessions to the bastion established.");
        _connectFailures = meter.CreateCounter<long>(SshTunnelTelemetry.SessionConnectFailures, "{attempt}", "SSH connect or login attempts that failed; error.type says how.");
        _disconnects = meter.CreateCounter<long>(SshTunnelTelemetry.SessionDisconnects, "{disconnect}", "SSH sessions that ended: error or reconnect (asked for).");
        _forwardFailures = meter.CreateCounter<long>(SshTunnelTelemetry.ForwardFailures, "{failure}", "Local forward failures: a target the bastion starts refusing (once per outage), or an error relaying a connection.");
    }

    /// <summary>
    /// Creates the Meter from the host's factory (Host.CreateApplicationBuilder registers one;
    /// the meter is disposed with the host), or a process-wide one when there is none.
    /// </summary>
    public static Meter CreateMeter(IMeterFactory? factory)
    {
        var options = new MeterOptions(SshTunnelTelemetry.Name) { Version = typeof(SshTunnelTelemetry).Assembly.GetName().Version?.ToString() };
        return factory?.Create(options) ?? SharedMeter.Value;
    }

    private static readonly Lazy<Meter> SharedMeter = new(() => new Meter(SshTunnelTelemetry.Name, typeof(SshTunnelTelemetry).Assembly.GetName().Version?.ToString()));

    /// <summary>Starts the span of one login attempt, or returns null (tracing off, or nobody listening).</summary>
    public Activity? StartConnect()
    {
        if (!_tracing)
        {
            return null;
        }

        var activity = SshTunnelTelemetry.Source.StartActivity(SshTunnelTelemetry.ConnectSpanName, ActivityKind.Client);
        if (activity is not null)
        {
            foreach (var tag in _tunnel)
            {
                activity.SetTag(tag.Key, tag.Value);
            }
        }

        return activity;
    }

    public void Connected() => _connects?.Add(1, _tunnel);

    public void ConnectFailed(string errorType) => _connectFailures?.Add(1, [.. _tunnel, new("error.type", errorType)]);

    public void Disconnected(string reason) => _disconnects?.Add(1, [.. _tunnel, new(SshTunnelTelemetry.DisconnectReason, reason)]);

    public void ForwardFailed(string errorType) => _forwardFailures?.Add(1, [.. _tunnel, new("error.type", errorType)]);
}
