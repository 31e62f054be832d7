namespace ZmqAspire.Client;

/// <summary>What the REQ client sends, bound from the <c>Client</c> configuration section.</summary>
public sealed class RequestClientOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "Client";

    /// <summary>Gets or sets how many requests to send; 0 sends until stopped. Default: 9, as the seed.</summary>
    public int RequestCount { get; set; } = 9;

    /// <summary>Gets or sets the pause between a reply and the next request. Default: none.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.Zero;

    /// <summary>Gets or sets how long to wait for a reply before the request counts as failed and the socket is recreated. Default: 10 seconds.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets the request body. Default: <c>Hello</c>, as the seed.</summary>
    public string Message { get; set; } = "Hello";
}
