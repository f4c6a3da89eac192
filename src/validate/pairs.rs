//! The (category, subcategory) pairs of the tickets: what SOP checks and attribution match on.

use std::sync::Arc;

use polars::prelude::*;

use crate::error::Result;

/// The distinct (category, subcategory) pairs of the tickets as text (sorted), and the pair of
/// every row. Found on the categorical codes, so the text of 10 million rows is never built.
pub(crate) struct TicketPairs {
    pub text: Vec<(String, String)>,
    pub slot_of_row: Vec<u32>,
}

impl TicketPairs {
    pub(crate) fn of(tickets: &DataFrame) -> Result<Self> {
        let codes = |name: &str| -> Result<(UInt32Chunked, Arc<CategoricalMapping>)> {
            let column = tickets.column(name)?;
            let ca = column.cat32()?;
            Ok((ca.physical().rechunk().into_owned(), ca.get_mapping().clone()))
        };
        let (cats, cat_map) = codes("category")?;
        let (subs, sub_map) = codes("subcategory")?;
        let mut slots: PlHashMap<(Option<u32>, Option<u32>), u32> = PlHashMap::new();
        let mut slot_of_row = Vec::with_capacity(tickets.height());
        for (c, s) in cats.iter().zip(subs.iter()) {
            let next = slots.len() as u32;
            slot_of_row.push(*slots.entry((c, s)).or_insert(next));
        }
        let name = |code: Option<u32>, map: &CategoricalMapping| -> String {
            code.and_then(|c| map.cat_to_str(c)).unwrap_or_default().to_string()
        };
        let mut found: Vec<((String, String), u32)> =
            slots.iter().map(|(&(c, s), &slot)| ((name(c, &cat_map), name(s, &sub_map)), slot)).collect();
        found.sort();
        // Renumber the slots in text order.
        let mut renumber = vec![0u32; found.len()];
        for (k, (_, slot)) in found.iter().enumerate() {
            renumber[*slot as usize] = k as u32;
        }
        for s in &mut slot_of_row {
            *s = renumber[*s as usize];
        }
        Ok(TicketPairs { text: found.into_iter().map(|(t, _)| t).collect(), slot_of_row })
    }
}
