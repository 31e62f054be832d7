namespace ZmqAspire.AppHost;

/// <summary>
/// A NetMQ REP server (or another socket that binds, such as the demo publisher) in a container.
/// It has no Aspire endpoint, so nothing publishes a port for it on the host: only containers on
/// the application's network (the bastion) reach it, by its resource name
/// (<see cref="ForwardTarget"/>).
/// </summary>
/// <param name="name">The resource name, also its DNS name on the container network.</param>
/// <param name="port">The TCP port the socket binds inside the container.</param>
public sealed class ZmqServerResource(string name, int port) : ContainerResource(name)
{
    /// <summary>The uid the server image runs as (<c>USER</c> in src/ZmqAspire.Server/Dockerfile): the owner of its secret files.</summary>
    public const int ContainerUserId = 10001;

    /// <summary>Gets or sets the server's CurveZMQ keys when CURVE is on (<see cref="ZmqServerBuilderExtensions.WithCurve"/>); null: plaintext.</summary>
    public CurveKeyMaterial? Curve { get; set; }

    /// <summary>Gets the TCP port the socket binds inside the container.</summary>
    public int Port { get; } = port;

    /// <summary>Gets the server as a forward target of the bastion: <c>name:port</c> on the container network.</summary>
    public SshForwardTarget ForwardTarget => SshForwardTarget.FromContainerPort(this, Port);
}
