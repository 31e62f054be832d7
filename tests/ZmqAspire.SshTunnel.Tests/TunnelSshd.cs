namespace ZmqAspire.SshTunnel.Tests;

/// <summary>The tests that share one <see cref="TunnelSshd"/>; xunit runs them one after another.</summary>
[CollectionDefinition(Name)]
public sealed class TunnelSshdCollection : ICollectionFixture<TunnelSshd>
{
    public const string Name = "SshTunnel sshd";
}

/// <summary>The bastion of these tests: a loopback OpenSSH sshd with its own login user and client key.</summary>
public sealed class TunnelSshd() : LoopbackSshd(UserName, "ZmqAspire.SshTunnel.Tests")
{
    public const string UserName = "zmqaspire-sshtunnel";

    /// <summary>Gets the bastion as the connection string names it, <c>user@127.0.0.1:port</c>.</summary>
    public string SshServer => Server;

    /// <summary>The connection string the AppHost would emit for <paramref name="remoteEndpoints"/> (comma-separated).</summary>
    public string ConnectionString(string remoteEndpoints, string? hostKeyFingerprint = null) =>
        $"SshServer={SshServer};HostKeyFingerprint={hostKeyFingerprint ?? HostKeyFingerprint};RemoteEndpoint={remoteEndpoints};PrivateKeyPath={KeyPath}";

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        NetMQ.NetMQConfig.Cleanup(block: false);
    }
}
