using System.Globalization;

namespace ZmqAspire.Tunneling;

/// <summary>
/// The one parser of <c>host[:port]</c> behind <see cref="TcpEndpoint"/> and
/// <see cref="SshServerAddress"/>, and the checks their constructors share with it, so that what
/// <c>Parse</c> accepts and what <c>new</c> accepts cannot drift apart.
/// </summary>
/// <remarks>
/// The grammar is ssh's: an IPv6 literal in brackets, the host <c>*</c> for "any address" and the
/// port 0 for "any port" (<c>ssh -R *:0:host:port</c>). Whether a wildcard is allowed is the
/// caller's decision (<see cref="WildcardError"/>): only where an SSH server listens.
/// </remarks>
internal static class HostPort
{
    public const string AnyHost = "*";
    public const int AnyPort = 0;
    public const int MaxPort = 65535;

    public static bool TryParse(string text, int? defaultPort, out string host, out int port, out string error)
    {
        host = string.Empty;
        port = 0;
        string portText;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = "an IPv6 host has no closing ']'";
                return false;
            }

            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0 && rest[0] != ':')
            {
                error = "unexpected text after ']'";
                return false;
            }

            portText = rest.Length > 0 ? rest[1..] : string.Empty;
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon >= 0 && text.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                error = "an IPv6 host must be written in brackets, e.g. [::1]:22";
                return false;
            }

            host = colon >= 0 ? text[..colon] : text;
            portText = colon >= 0 ? text[(colon + 1)..] : string.Empty;
        }

        if (HostError(host) is { } hostError)
        {
            error = hostError;
            return false;
        }

        if (portText.Length == 0)
        {
            if (defaultPort is null)
            {
                error = "no port";
                return false;
            }

            port = defaultPort.Value;
        }
        else if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || PortError(port) is not null)
        {
            error = $"port '{portText}' is not a number from 0 to {MaxPort}";
            return false;
        }

        error = string.Empty;
        return true;
    }

    /// <summary>Why <paramref name="host"/> cannot be a host (unbracketed: brackets belong to the text form), or null.</summary>
    public static string? HostError(string? host) =>
        string.IsNullOrEmpty(host) ? "no host name"
        : host.Any(c => char.IsWhiteSpace(c) || c is '[' or ']' or '/' or '@') ? $"'{host}' is not a host name or address"
        : host.Contains('*', StringComparison.Ordinal) && host != AnyHost ? $"'{host}': '*' stands alone, for any address"
        : null;

    /// <summary>Why <paramref name="port"/> cannot be a TCP port, or null (0, any port, is a port here).</summary>
    public static string? PortError(int port) =>
        port is < AnyPort or > MaxPort ? $"port {port} is not from 0 to {MaxPort}" : null;

    /// <summary>
    /// Why <paramref name="host"/> and <paramref name="port"/> cannot be connected to, or null:
    /// ssh takes <c>*</c> and 0 only where its server listens (<c>-R</c>'s first half), never as
    /// the host and port a connection goes to.
    /// </summary>
    public static string? WildcardError(string host, int port) =>
        host == AnyHost ? "'*' (any address) is only for where an SSH server listens; a connection goes to one host"
        : port == AnyPort ? "port 0 (any port) is only for where an SSH server listens; a connection needs a port from 1 to 65535"
        : null;

    public static string Format(string host, int port) =>
        host.Contains(':', StringComparison.Ordinal)
            ? string.Create(CultureInfo.InvariantCulture, $"[{host}]:{port}")
            : string.Create(CultureInfo.InvariantCulture, $"{host}:{port}");
}
