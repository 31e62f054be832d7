using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace ZmqAspire.Tunneling;

/// <summary>
/// An SSH server to log in to, written the way <c>ssh</c> and pyzmq's <c>zmq.ssh</c> take it:
/// <c>user@host[:port]</c>, with an IPv6 host in brackets (<c>user@[::1]:2222</c>).
/// </summary>
/// <remarks>The host and port follow the same rule as a <see cref="TcpEndpoint"/> target (one host,
/// not <c>*</c>; a port from 1 to 65535), checked alike by <see cref="Parse"/> (which throws
/// <see cref="FormatException"/>) and the constructor (which throws <see cref="ArgumentException"/>,
/// or <see cref="ArgumentOutOfRangeException"/> for the port).</remarks>
/// <param name="User">The login user name.</param>
/// <param name="Host">The host name or IP address of the SSH server (IPv6 without brackets).</param>
/// <param name="Port">The TCP port of the SSH server, 1-65535; 22 unless given.</param>
public sealed record SshServerAddress(string User, string Host, int Port = SshServerAddress.DefaultPort)
{
    /// <summary>The IANA port for SSH.</summary>
    public const int DefaultPort = 22;

    /// <summary>Gets the login user name.</summary>
    public string User { get; } = string.IsNullOrEmpty(User) ? throw new ArgumentException("Invalid SSH server: no user name.", nameof(User)) : User;

    /// <summary>Gets the host name or IP address of the SSH server.</summary>
    public string Host { get; } = (HostPort.HostError(Host) ?? HostPort.WildcardError(Host, DefaultPort)) is { } error
        ? throw new ArgumentException($"Invalid SSH server: {error}.", nameof(Host))
        : Host;

    /// <summary>Gets the TCP port of the SSH server, 1-65535.</summary>
    public int Port { get; } = Port is < 1 or > HostPort.MaxPort
        ? throw new ArgumentOutOfRangeException(nameof(Port), Port, "An SSH server's port is from 1 to 65535.")
        : Port;

    /// <summary>
    /// Parses <c>user@host[:port]</c>.
    /// </summary>
    /// <param name="value">The address to parse.</param>
    /// <returns>The parsed address.</returns>
    /// <exception cref="FormatException">The value has no user, no host, the host <c>*</c>, or a port outside
    /// 1-65535; the message quotes the value, what is wrong and the expected shape.</exception>
    public static SshServerAddress Parse(string value) =>
        TryParse(value, out var address, out var error)
            ? address
            : throw new FormatException($"Invalid SSH server '{value}': {error}. Expected user@host[:port].");

    /// <summary>Parses <c>user@host[:port]</c> without throwing.</summary>
    /// <param name="value">The address to parse.</param>
    /// <param name="address">The parsed address, when the result is <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="value"/> is well formed.</returns>
    public static bool TryParse(string? value, [NotNullWhen(true)] out SshServerAddress? address) =>
        TryParse(value, out address, out _);

    private static bool TryParse(string? value, [NotNullWhen(true)] out SshServerAddress? address, out string error)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            error = "it is empty";
            return false;
        }

        // The user name may itself contain '@' (some directory logins do): the host follows the last one.
        var at = value.LastIndexOf('@');
        if (at <= 0)
        {
            error = "no user name before '@'";
            return false;
        }

        var user = value[..at];
        if (!HostPort.TryParse(value[(at + 1)..], DefaultPort, out var host, out var port, out error))
        {
            return false;
        }

        // An SSH server is connected to: the wildcards are refused as for any target.
        if (HostPort.WildcardError(host, port) is { } wildcard)
        {
            error = wildcard;
            return false;
        }

        address = new SshServerAddress(user, host, port);
        return true;
    }

    /// <summary>Formats the address back to <c>user@host:port</c>.</summary>
    /// <returns>The address in the form accepted by <see cref="Parse"/>.</returns>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{User}@{HostPort.Format(Host, Port)}");
}
