using System.Globalization;

namespace ZmqAspire.Tunneling;

/// <summary>Shared parsing of <c>host[:port]</c> with IPv6 literals in brackets.</summary>
internal static class HostPort
{
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

        if (host.Length == 0 || host.Any(char.IsWhiteSpace))
        {
            error = "no host name";
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
        else if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            error = $"port '{portText}' is not a number from 1 to 65535";
            return false;
        }

        error = string.Empty;
        return true;
    }

    public static string Format(string host, int port) =>
        host.Contains(':', StringComparison.Ordinal)
            ? string.Create(CultureInfo.InvariantCulture, $"[{host}]:{port}")
            : string.Create(CultureInfo.InvariantCulture, $"{host}:{port}");
}
