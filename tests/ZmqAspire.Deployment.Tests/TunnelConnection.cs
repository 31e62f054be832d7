namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// The client's <c>ConnectionStrings__server</c> (read by AddSshTunnel("server")), split into its
/// <c>key=value</c> pairs, so that a deployment can be compared with the AppHost key by key: the
/// pin (<c>HostKeyFingerprint</c>) and the key file (<c>PrivateKeyPath</c>) differ by design.
/// </summary>
internal static class TunnelConnection
{
    /// <summary>The variable the client reads.</summary>
    public const string Variable = "ConnectionStrings__server";

    /// <summary>The keys whose values differ by deployment: the pin comes from make-keys.sh, the key is a mounted secret.</summary>
    public static readonly HashSet<string> PerDeployment = new(StringComparer.OrdinalIgnoreCase) { "HostKeyFingerprint", "PrivateKeyPath" };

    /// <summary>Splits a connection string into its pairs (keys case-insensitive).</summary>
    public static Dictionary<string, string> Parse(string connectionString) =>
        connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair.Length > 1 ? pair[1] : string.Empty, StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets one key's value of the connection string.</summary>
    public static string Get(string connectionString, string key) => Parse(connectionString)[key];
}
