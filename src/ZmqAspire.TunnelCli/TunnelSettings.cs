using System.Net;
using ZmqAspire.Tunneling;

namespace ZmqAspire.TunnelCli;

/// <summary>What one zmq-tunnel run does, checked and ready to use.</summary>
/// <param name="Server">The bastion, <c>user@host[:port]</c>.</param>
/// <param name="Targets">The endpoints as the bastion sees them, one forward each.</param>
/// <param name="HostKey">How the bastion's host key is checked: pinned or known_hosts, never "accept".</param>
/// <param name="IdentityPath">The private key to log in with; null: the password, or ~/.ssh's default keys.</param>
/// <param name="AskPassphrase">Ask the terminal for the identity's passphrase.</param>
/// <param name="Password">The password, read from the environment variable <c>--password-env</c> names.</param>
/// <param name="LocalPorts">One local port per target (0: the OS picks).</param>
/// <param name="Bind">The address the local listeners bind to.</param>
/// <param name="Json">Print the forwards and the state changes as JSON lines.</param>
/// <param name="Probe">Check each forward end to end before reporting it open.</param>
/// <param name="ConnectTimeout">How long a login may take.</param>
/// <param name="HealthPort">The loopback port of the JSON health report; null: none.</param>
/// <param name="Child">The command to run with the tunnel, after <c>--</c>; empty: none.</param>
public sealed record TunnelSettings(
    SshServerAddress Server,
    IReadOnlyList<TcpEndpoint> Targets,
    HostKeyPolicy HostKey,
    string? IdentityPath,
    bool AskPassphrase,
    string? Password,
    IReadOnlyList<int> LocalPorts,
    IPAddress Bind,
    bool Json,
    bool Probe,
    TimeSpan ConnectTimeout,
    int? HealthPort,
    IReadOnlyList<string> Child);

/// <summary>The arguments are wrong: exit <see cref="ExitCodes.Usage"/> with this message.</summary>
public sealed class UsageException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public UsageException()
        : base("The command line is not valid.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong with the arguments, naming the option.</param>
    public UsageException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the error underneath.</summary>
    /// <param name="message">What is wrong with the arguments, naming the option.</param>
    /// <param name="innerException">The parse error underneath, if any.</param>
    public UsageException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
