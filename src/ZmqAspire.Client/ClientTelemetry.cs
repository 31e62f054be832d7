using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ZmqAspire.Client;

/// <summary>
/// The client's own ActivitySource and Meter, both <see cref="Name"/> (matched by the
/// ServiceDefaults' <c>ZmqAspire.*</c> registration): the SSH session and forward as the client
/// sees them around its use of the tunnel library. Request spans and metrics come from
/// <c>ZmqAspire.Messaging</c>.
/// </summary>
public static class ClientTelemetry
{
    /// <summary>The ActivitySource and Meter name.</summary>
    public const string Name = "ZmqAspire.Client";

    /// <summary>The ActivitySource for SSH connect spans.</summary>
    public static readonly ActivitySource Source = new(Name);

    /// <summary>The Meter for the SSH instruments.</summary>
    public static readonly Meter Meter = new(Name);

    /// <summary>Logins to the bastion that succeeded.</summary>
    public static readonly Counter<long> SshConnects = Meter.CreateCounter<long>(
        "zmqaspire.ssh.session.connects", "{connect}", "SSH sessions to the bastion established.");

    /// <summary>Login attempts that failed, by <c>error.type</c>.</summary>
    public static readonly Counter<long> SshConnectFailures = Meter.CreateCounter<long>(
        "zmqaspire.ssh.session.connect_failures", "{attempt}", "SSH connect or login attempts that failed; error.type says how.");

    /// <summary>Sessions that ended, by <c>zmqaspire.ssh.disconnect.reason</c>.</summary>
    public static readonly Counter<long> SshDisconnects = Meter.CreateCounter<long>(
        "zmqaspire.ssh.session.disconnects", "{disconnect}", "SSH sessions that ended: error, reconnect (asked for) or shutdown.");

    /// <summary>Target outages (the bastion starts refusing channels to a target: once per outage) and errors SSH.NET reported relaying a connection.</summary>
    public static readonly Counter<long> ForwardFailures = Meter.CreateCounter<long>(
        "zmqaspire.ssh.forward.failures", "{failure}", "Local forward failures (opening the listener or relaying a connection).");

    /// <summary>The attribute naming why a session ended.</summary>
    public const string DisconnectReason = "zmqaspire.ssh.disconnect.reason";
}
