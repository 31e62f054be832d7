using System.Data.Common;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Reads the tunnel's connection string (<c>ConnectionStrings:{name}</c>): <c>key=value</c> pairs
/// separated by <c>;</c>, keys case-insensitive, values quoted when they hold <c>;</c>
/// (<see cref="DbConnectionStringBuilder"/>'s grammar, which writes what the AppHost emits).
/// </summary>
internal static class SshTunnelConnectionString
{
    /// <summary>The keys a connection string may hold, spelled as the settings' properties.</summary>
    public static readonly string[] Keys =
    [
        nameof(SshTunnelSettings.SshServer),
        nameof(SshTunnelSettings.HostKeyFingerprint),
        nameof(SshTunnelSettings.KnownHostsPath),
        nameof(SshTunnelSettings.RemoteEndpoint),
        nameof(SshTunnelSettings.PrivateKeyPath),
        nameof(SshTunnelSettings.PrivateKeyPassphrase),
        nameof(SshTunnelSettings.Password),
    ];

    /// <summary>Parses the connection string into its values, by key as spelled in <see cref="Keys"/>.</summary>
    /// <param name="connectionString">The connection string.</param>
    /// <param name="unknown">What is wrong with each key that is not one of <see cref="Keys"/> (a typo would otherwise be ignored).</param>
    /// <returns>The values of the known keys (empty values are left out).</returns>
    /// <exception cref="FormatException">It is not <c>key=value;...</c>.</exception>
    public static Dictionary<string, string> Parse(string connectionString, out List<string> unknown)
    {
        var builder = new DbConnectionStringBuilder();
        try
        {
            builder.ConnectionString = connectionString;
        }
        catch (ArgumentException ex)
        {
            // Its message quotes no secret: it points at the position of the error.
            throw new FormatException($"it is not key=value pairs separated by ';' ({ex.Message})", ex);
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        unknown = [];
        foreach (string key in builder.Keys)
        {
            var known = Array.Find(Keys, k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase));
            if (known is null)
            {
                unknown.Add($"unknown key '{AsWritten(connectionString, key)}' (known: {string.Join(", ", Keys)}; timings and switches go in the {SshTunnelSettings.DefaultConfigSectionName} section)");
                continue;
            }

            if (Convert.ToString(builder[key], System.Globalization.CultureInfo.InvariantCulture) is { Length: > 0 } value)
            {
                values[known] = value;
            }
        }

        return values;
    }

    // DbConnectionStringBuilder lower-cases its keys: quote the key as the user wrote it.
    private static string AsWritten(string connectionString, string key)
    {
        var at = connectionString.IndexOf(key, StringComparison.OrdinalIgnoreCase);
        return at < 0 ? key : connectionString.Substring(at, key.Length);
    }
}
