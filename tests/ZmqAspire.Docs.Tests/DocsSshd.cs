namespace ZmqAspire.Docs.Tests;

/// <summary>The tests that share one <see cref="DocsSshd"/>; xunit runs them one after another.</summary>
[CollectionDefinition(Name)]
public sealed class DocsCollection : ICollectionFixture<DocsSshd>
{
    public const string Name = "docs samples";
}

/// <summary>
/// The loopback stand-in for the docs' bastion (<see cref="LoopbackSshd"/>; remote forwards on its
/// loopback only, <c>GatewayPorts no</c>, so no sample sends anything off this machine), and a
/// throw-away home for the Python and shell samples: an OpenSSH client config that checks the
/// host key strictly. Needs root.
/// </summary>
public sealed class DocsSshd : LoopbackSshd
{
    public const string UserName = "zmqaspire-docs";

    // A sample may ask for any listen address ("*" included): sshd still listens on its loopback only.
    public DocsSshd()
        : base(UserName, "ZmqAspire.Docs.Tests", ["PermitListen any"])
    {
        // The samples' reader: a local user whose ~/.ssh holds the host key and the client key,
        // nothing else (OpenSSH reads ~/.ssh from the passwd entry, so a real account it is).
        Client = LocalAccount.Create();
        Client.TrustHostKey(Loopback, Port, $"{HostPublicKey.Type} {HostPublicKey.Base64}");
        ClientKnownHostsPath = Path.Combine(Client.Home, ".ssh", "known_hosts");
        ClientKeyPath = Client.InstallIdentity(KeyPath);
    }

    /// <summary>Gets the client key as <see cref="Client"/> holds it (its <c>~/.ssh/id_ed25519</c>, 0600).</summary>
    public string ClientKeyPath { get; }

    /// <summary>Gets <see cref="Client"/>'s known_hosts, naming sshd's host key as <c>[127.0.0.1]:PORT</c>.</summary>
    public string ClientKnownHostsPath { get; }

    /// <summary>
    /// Gets the local user the Python and shell samples run as: its <c>~/.ssh/known_hosts</c>
    /// names sshd's host key and its <c>~/.ssh/id_ed25519</c> is the client key, so pyzmq, paramiko
    /// and ssh run as they are, with no option or wrapper added.
    /// </summary>
    public LocalAccount Client { get; }

    protected override void Dispose(bool disposing)
    {
        // Also ends the sessions, and with them any ssh a Python sample forked (pyzmq's ssh -f).
        base.Dispose(disposing);
        if (disposing)
        {
            Client.Dispose();
        }

        NetMQ.NetMQConfig.Cleanup(block: false);
    }
}
