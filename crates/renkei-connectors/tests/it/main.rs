mod http;
mod people_hubspot;
mod people_salesforce;
mod people_zoho;
mod records_hubspot;
mod records_salesforce;
mod records_zoho;
mod sandbox;
