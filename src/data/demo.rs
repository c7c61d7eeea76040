//! Datasets embedded in the binary, so that `pynomaly` works with no file at hand.
//! Provenance and citations: `assets/README.md`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demo {
    /// ODDS/ADBench Cardiotocography: 1,831 rows, 21 features, 176 anomalies (real data).
    Cardio,
    /// Synthetic server metrics with a timestamp, a host column and injected incidents.
    ServerMetrics,
}

impl Demo {
    pub const ALL: [Demo; 2] = [Demo::Cardio, Demo::ServerMetrics];

    /// The dataset `pynomaly` opens when given no file.
    pub const DEFAULT: Demo = Demo::Cardio;

    pub fn name(self) -> &'static str {
        match self {
            Demo::Cardio => "cardio",
            Demo::ServerMetrics => "server_metrics",
        }
    }

    pub fn names() -> Vec<&'static str> {
        Demo::ALL.iter().map(|d| d.name()).collect()
    }

    pub fn from_name(name: &str) -> Option<Demo> {
        Demo::ALL.into_iter().find(|d| d.name() == name)
    }

    pub fn description(self) -> &'static str {
        match self {
            Demo::Cardio => {
                "Cardiotocography (ODDS/ADBench, real): 1,831 rows, 21 features, label = anomaly"
            }
            Demo::ServerMetrics => {
                "Server metrics (synthetic): timestamp, host, 5 metrics, injected incidents"
            }
        }
    }

    pub fn bytes(self) -> &'static [u8] {
        match self {
            Demo::Cardio => include_bytes!("../../assets/cardio.csv"),
            Demo::ServerMetrics => include_bytes!("../../assets/server_metrics.csv"),
        }
    }
}
