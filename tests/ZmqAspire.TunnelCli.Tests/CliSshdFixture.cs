using System.Security.Cryptography;
using NetMQ;

namespace ZmqAspire.TunnelCli.Tests;

/// <summary>The tests that share one real sshd; xunit runs them one after another.</summary>
[CollectionDefinition(Name)]
public sealed class CliSshdCollection : ICollectionFixture<CliSshdFixture>
{
    public const string Name = "zmq-tunnel against OpenSSH sshd";
}

/// <summary>
/// The loopback sshd of the zmq-tunnel tests (<see cref="LoopbackSshd"/>), with what the refusal
/// tests need besides: a password, a passphrase-protected key, a key sshd does not know, and
/// local forwards only.
/// </summary>
public sealed class CliSshdFixture : LoopbackSshd
{
    public const string UserName = "zmqaspire-cli";

    public CliSshdFixture()
        : base(UserName, "ZmqAspire.TunnelCli.Tests", ["AllowTcpForwarding local"], password: true)
    {
        EncryptedKeyPassphrase = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        EncryptedKeyPath = AddClientKey("id_encrypted", "zmq-tunnel test client, encrypted", EncryptedKeyPassphrase);
        UnauthorizedKeyPath = AddClientKey("id_unauthorized", "not authorized", authorized: false);
    }

    /// <summary>Gets a passphrase-protected client key in authorized_keys.</summary>
    public string EncryptedKeyPath { get; }

    /// <summary>Gets the passphrase of <see cref="EncryptedKeyPath"/> (made per run).</summary>
    public string EncryptedKeyPassphrase { get; }

    /// <summary>Gets a client key that is not in authorized_keys.</summary>
    public string UnauthorizedKeyPath { get; }

    /// <summary>Gets the login user's password (made per run).</summary>
    public new string Password => base.Password!;

    /// <summary>Gets the process ids of sshd's per-connection children: one or more per open session.</summary>
    public IReadOnlyList<int> SessionProcesses()
    {
        var parent = Pid;
        return parent == 0 ? [] : [.. ProcFs.ParentIds().Where(p => p.Value == parent).Select(p => p.Key)];
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        NetMQConfig.Cleanup(block: false);
    }
}
