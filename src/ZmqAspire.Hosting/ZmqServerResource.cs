using Aspire.Hosting.ApplicationModel;

namespace ZmqAspire.Hosting;

/// <summary>
/// A NetMQ REP server (or another socket that binds, such as the demo publisher) in a container.
/// It publishes no port to the host: only containers on the application's network (the bastion)
/// reach it, by its resource name.
/// </summary>
/// <param name="name">The resource name, also its DNS name on the container network.</param>
/// <param name="port">The TCP port the REP socket binds inside the container.</param>
public sealed class ZmqServerResource(string name, int port) : ContainerResource(name)
{
    /// <summary>The uid the server image runs as (<c>USER</c> in src/ZmqAspire.Server/Dockerfile): the owner of its secret files.</summary>
    public const int ContainerUserId = 10001;

    /// <summary>Gets or sets the server's CurveZMQ keys when CURVE is on (<see cref="ZmqAspireHostingExtensions.WithCurve"/>); null: plaintext.</summary>
    public CurveKeyMaterial? Curve { get; set; }

    /// <summary>Gets the TCP port the REP socket binds inside the container.</summary>
    public int Port { get; } = port;

    /// <summary>Gets the endpoint as the bastion sees it: <c>tcp://name:port</c>.</summary>
    public string EndpointOnContainerNetwork => $"tcp://{Name}:{Port}";

    /// <summary>Gets the target a forward asks the bastion for, <c>name:port</c> (what <c>PermitOpen</c> must match literally).</summary>
    public string ForwardTarget => $"{Name}:{Port}";
}
